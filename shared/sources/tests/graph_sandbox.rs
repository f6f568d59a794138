//! The Graph source against the sandbox emulators: paging a large tenant, denied sections,
//! a bad secret, throttling, a Graph that answers nothing, token caching, and the tenant's
//! Graph budget kept.
#![allow(clippy::unwrap_used)]

use docsync_domain::snapshot::Section;
use docsync_domain::{ApiKey, RateLimit, TenantId};
use docsync_sandbox::{
    fixtures, FaultKind, FaultProvider, FaultRule, Faults, Sandbox, SandboxConfig, WindowLimit,
};
use docsync_sources::{
    GraphSource, GraphSourceConfig, MicrosoftBudgets, MicrosoftCredentials, SourceError, TenantRef,
};
use std::time::Duration;

const CLIENT_ID: &str = "5a4db0c1-d0c5-4c1e-8a7e-000000000001";
const SECRET: &str = "sandbox-client-secret-0123456789";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        tenants: 12,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn source(sb: &Sandbox, max_retries: u32) -> GraphSource {
    source_with_timeout(sb, max_retries, Duration::from_secs(10))
}

fn source_with_timeout(sb: &Sandbox, max_retries: u32, request_timeout: Duration) -> GraphSource {
    GraphSource::new(GraphSourceConfig {
        graph_url: sb.graph_url.clone(),
        login_url: sb.login_url.clone(),
        exchange_url: sb.exchange_url.clone(),
        max_concurrency: 4,
        hedge_after: None,
        request_timeout,
        max_retries,
        budgets: MicrosoftBudgets::default(),
    })
    .unwrap()
}

/// Report pages (the MFA registration report) that never answer, at `rate`.
fn hanging_report_pages(rate: f64) -> Faults {
    Faults {
        rules: vec![
            FaultRule::new(FaultProvider::Graph, FaultKind::HangRate(rate)).on("/v1.0/reports"),
        ],
        seed: 11,
        ..Faults::default()
    }
}

fn creds(secret: &str) -> MicrosoftCredentials {
    MicrosoftCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: ApiKey::parse("clientSecret", secret).unwrap(),
    }
}

fn tenant(index: usize) -> TenantRef {
    let fixture = fixtures::tenant(index);
    TenantRef {
        tenant_id: TenantId::new(),
        name: fixture.display_name.clone(),
        microsoft_tenant_id: fixture.microsoft_tenant_id,
    }
}

#[tokio::test]
async fn a_large_tenant_is_paged_to_the_fixture_figures() {
    let sb = sandbox().await;
    let fixture = fixtures::tenant(0);
    assert!(fixture.user_count() >= 2600);
    let snap = source(&sb, 5)
        .collect(&creds(SECRET), &tenant(0))
        .await
        .unwrap();
    let meta = snap.metadata.data().expect("metadata collected");
    assert_eq!(meta.user_count, fixture.user_count());
    assert_eq!(meta.primary_domain, fixture.default_domain());
    let mfa = snap.mfa.data().expect("mfa collected");
    assert_eq!(mfa.users, fixture.member_count());
    assert_eq!(mfa.percent, fixture.mfa_percent());
    assert_eq!(
        (mfa.admins - mfa.admins_registered) as usize,
        fixture.admins_without_mfa()
    );
    assert!(snap.conditional_access.data().is_some());
    assert!(snap.defender.data().is_some());
    assert!(snap.exchange.data().is_some());
    assert!(snap.standards.baselines.len() >= 15);
    assert_eq!(snap.compliance.frameworks.len(), 3);
}

/// The outcome of check `id` in a snapshot.
fn outcome(snap: &docsync_domain::Snapshot, id: &str) -> docsync_domain::snapshot::CheckOutcome {
    snap.standards
        .baselines
        .iter()
        .find(|b| b.id == id)
        .map(|b| b.outcome)
        .unwrap()
}

#[tokio::test]
async fn scores_read_what_the_sandbox_tenants_really_enforce() {
    use docsync_domain::snapshot::CheckOutcome::{Fail, NotApplicable, Pass};
    let sb = Sandbox::start(SandboxConfig {
        tenants: 17,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    // 2: guests are reported apart from member adoption.
    let fixture = fixtures::tenant(2);
    assert!(fixture.guest_count() > 0);
    let snap = source(&sb, 5)
        .collect(&creds(SECRET), &tenant(2))
        .await
        .unwrap();
    let mfa = snap.mfa.data().unwrap();
    assert_eq!(
        (mfa.users, mfa.registered, mfa.guests),
        (
            fixture.member_count(),
            fixture.members_registered(),
            fixture.guest_count()
        )
    );
    assert_eq!(mfa.percent, fixture.mfa_percent());
    // 3: the all-users MFA policy is enabled on every app: DS-03 passes, noting exclusions.
    let snap = source(&sb, 5)
        .collect(&creds(SECRET), &tenant(3))
        .await
        .unwrap();
    assert_eq!(outcome(&snap, "DS-03"), Pass);
    // 9: the same policy for Office 365 only; 6: mfa OR compliantDevice. Neither is MFA for
    // all users.
    for (i, why) in [
        (9, "does not cover all cloud apps"),
        (6, "grant is mfa OR compliantDevice"),
    ] {
        let snap = source(&sb, 5)
            .collect(&creds(SECRET), &tenant(i))
            .await
            .unwrap();
        assert_eq!(outcome(&snap, "DS-03"), Fail, "fixture {i}");
        let b = snap
            .standards
            .baselines
            .iter()
            .find(|b| b.id == "DS-03")
            .unwrap();
        assert!(b.detail.contains(why), "fixture {i}: {}", b.detail);
    }
    // 5: no anti-phish protection on: DS-11 fails, with the policy's facts.
    assert!(!fixtures::tenant(5).anti_phish_protected());
    let snap = source(&sb, 5)
        .collect(&creds(SECRET), &tenant(5))
        .await
        .unwrap();
    assert_eq!(outcome(&snap, "DS-11"), Fail);
    // 16: no custom domain, no Copilot: not applicable, outside the CIS score.
    let snap = source(&sb, 5)
        .collect(&creds(SECRET), &tenant(16))
        .await
        .unwrap();
    for id in ["DS-10", "DS-15", "DS-16"] {
        assert_eq!(outcome(&snap, id), NotApplicable, "{id}");
    }
    let cis = &snap.compliance.frameworks[2];
    assert!(cis.not_applicable >= 1);
    assert!(cis
        .controls
        .iter()
        .any(|c| c.id == "CIS 2.1.9" && c.result == NotApplicable));
}

#[tokio::test]
async fn copilot_idle_seats_match_the_fixture() {
    let sb = sandbox().await;
    let fixture = fixtures::tenant(1);
    let snap = source(&sb, 5)
        .collect(&creds(SECRET), &tenant(1))
        .await
        .unwrap();
    let copilot = snap.copilot.data().expect("copilot collected");
    assert!(copilot.assigned > 0);
    assert_eq!(copilot.idle_seats as usize, fixture.copilot_idle_seats());
    assert_eq!(
        copilot.prompt_audit_enabled,
        Some(fixture.unified_audit_enabled)
    );
}

#[tokio::test]
async fn a_denied_section_is_unavailable_with_a_reason_and_the_rest_is_collected() {
    let sb = sandbox().await;
    let exchange_denied = (0..12)
        .find(|i| fixtures::tenant(*i).is_denied("exchange"))
        .unwrap();
    let snap = source(&sb, 5)
        .collect(&creds(SECRET), &tenant(exchange_denied))
        .await
        .unwrap();
    let Section::Unavailable { reason } = &snap.exchange else {
        panic!("exchange should be unavailable");
    };
    assert!(reason.contains("403"), "{reason}");
    assert!(reason.contains("Exchange.ManageAsApp"), "{reason}");
    assert!(snap.metadata.data().is_some());
    assert!(snap.mfa.data().is_some());
    assert!(snap.conditional_access.data().is_some());
    assert!(
        snap.transient_gaps.is_empty(),
        "a missing permission is not retried: {:?}",
        snap.transient_gaps
    );
    // Checks on Exchange facts are unknown, not failed.
    let dkim = snap
        .standards
        .baselines
        .iter()
        .find(|b| b.id == "DS-10")
        .unwrap();
    assert_eq!(
        dkim.outcome,
        docsync_domain::snapshot::CheckOutcome::Unknown
    );

    let defender_denied = (0..12)
        .find(|i| fixtures::tenant(*i).is_denied("defender"))
        .unwrap();
    let snap = source(&sb, 5)
        .collect(&creds(SECRET), &tenant(defender_denied))
        .await
        .unwrap();
    let Section::Unavailable { reason } = &snap.defender else {
        panic!("defender should be unavailable");
    };
    assert!(
        reason.contains("403 Authorization_RequestDenied"),
        "{reason}"
    );
    assert!(
        reason.contains("SecurityIncident.Read.All") || reason.contains("SecurityEvents.Read.All"),
        "{reason}"
    );
    assert!(snap.metadata.data().is_some());
}

#[tokio::test]
async fn a_bad_secret_is_a_sign_in_error_that_never_shows_the_secret() {
    let sb = sandbox().await;
    let wrong = "wrong-secret-value-DO-NOT-LEAK-42";
    let err = source(&sb, 5)
        .collect(&creds(wrong), &tenant(2))
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::SignIn { .. }), "{err:?}");
    assert!(!err.is_transient());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(wrong), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("AADSTS7000215"), "{shown}");
    assert!(shown.contains("client secret"), "{shown}");
}

#[tokio::test]
async fn an_unknown_tenant_is_a_sign_in_error() {
    let sb = sandbox().await;
    let mut t = tenant(2);
    t.microsoft_tenant_id = "00000000-0000-0000-0000-00000000dead".into();
    let err = source(&sb, 5)
        .collect(&creds(SECRET), &t)
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::SignIn { .. }), "{err:?}");
    assert!(err.to_string().contains("microsoftTenantId"), "{err}");
}

#[tokio::test]
async fn throttling_is_retried_until_the_collection_succeeds() {
    let sb = sandbox().await;
    sb.set_faults(Faults {
        graph_429_every_nth: Some(3),
        ..Faults::default()
    });
    let fixture = fixtures::tenant(2);
    let snap = source(&sb, 5)
        .collect(&creds(SECRET), &tenant(2))
        .await
        .unwrap();
    assert!(sb.graph_stats().throttled_429 > 0);
    assert_eq!(
        snap.metadata.data().unwrap().user_count,
        fixture.user_count()
    );
    assert_eq!(snap.mfa.data().unwrap().percent, fixture.mfa_percent());
    assert!(snap.conditional_access.data().is_some());
}

#[tokio::test]
async fn a_graph_that_answers_nothing_is_transient() {
    let sb = sandbox().await;
    sb.set_faults(Faults {
        graph_5xx_every_nth: Some(1),
        ..Faults::default()
    });
    let err = source(&sb, 1)
        .collect(&creds(SECRET), &tenant(2))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn graph_pages_that_never_answer_time_out_and_are_asked_again() {
    let sb = sandbox().await;
    let fixture = fixtures::tenant(0);
    // A large tenant: its registration report spans several pages, a third of which hang.
    sb.set_faults(hanging_report_pages(0.3));
    let snap = source_with_timeout(&sb, 8, Duration::from_millis(500))
        .collect(&creds(SECRET), &tenant(0))
        .await
        .unwrap();
    let mfa = snap.mfa.data().expect("mfa collected despite hung pages");
    assert_eq!(mfa.users, fixture.member_count());
    assert_eq!(mfa.percent, fixture.mfa_percent());

    // When every page hangs, the section is given up as a passing fault that says why, so
    // the collector can try the run again later.
    sb.set_faults(hanging_report_pages(1.0));
    let snap = source_with_timeout(&sb, 1, Duration::from_millis(300))
        .collect(&creds(SECRET), &tenant(0))
        .await
        .unwrap();
    assert!(snap.mfa.data().is_none());
    assert_eq!(snap.transient_gaps.len(), 1, "{:?}", snap.transient_gaps);
    assert!(
        snap.transient_gaps[0].contains("timed out"),
        "{:?}",
        snap.transient_gaps
    );
    assert!(snap.metadata.data().is_some(), "the rest is collected");
}

#[tokio::test]
async fn tokens_are_cached_between_collections() {
    let sb = sandbox().await;
    let src = source(&sb, 5);
    src.collect(&creds(SECRET), &tenant(2)).await.unwrap();
    let after_first = sb.graph_stats().tokens_issued;
    src.clone()
        .collect(&creds(SECRET), &tenant(2))
        .await
        .unwrap();
    assert_eq!(sb.graph_stats().tokens_issued, after_first);
    assert_eq!(after_first, 2, "one Graph and one Exchange token");
}

/// A source whose Graph budget per tenant is `graph`, the rest as configured by default.
fn paced_source(sb: &Sandbox, graph: RateLimit) -> GraphSource {
    GraphSource::new(GraphSourceConfig {
        graph_url: sb.graph_url.clone(),
        login_url: sb.login_url.clone(),
        exchange_url: sb.exchange_url.clone(),
        max_concurrency: 12,
        hedge_after: None,
        request_timeout: Duration::from_secs(10),
        max_retries: 5,
        budgets: MicrosoftBudgets {
            graph,
            ..MicrosoftBudgets::default()
        },
    })
    .unwrap()
}

/// Graph allows 4 requests a second per tenant here; a collection makes about a dozen.
fn strict_graph(sb: &Sandbox) {
    sb.set_graph_rate_limit(Some(WindowLimit {
        requests: 4,
        window_secs: 1,
        send_retry_after: true,
    }));
}

#[tokio::test]
async fn a_collection_keeps_to_the_tenants_graph_budget() {
    let sb = sandbox().await;
    strict_graph(&sb);
    let fixture = fixtures::tenant(3);
    let budget = RateLimit {
        requests: 4,
        per_seconds: 1,
    };
    let snap = paced_source(&sb, budget)
        .collect(&creds(SECRET), &tenant(3))
        .await
        .unwrap();
    let stats = sb.graph_stats();
    assert!(stats.requests >= 8, "a whole collection: {stats:?}");
    assert_eq!(stats.throttled_429, 0, "no read over the budget: {stats:?}");
    assert!(stats.max_requests_in_any_window <= 4, "{stats:?}");
    assert_eq!(
        snap.metadata.data().unwrap().user_count,
        fixture.user_count()
    );
    assert_eq!(snap.mfa.data().unwrap().percent, fixture.mfa_percent());
    assert!(snap.conditional_access.data().is_some());
    assert!(snap.transient_gaps.is_empty(), "{:?}", snap.transient_gaps);
}

#[tokio::test]
async fn without_its_budget_the_same_collection_is_throttled_and_waits_it_out() {
    // The other side of the test above: the sandbox's limit does refuse a collection that is
    // not paced under it, and the refused reads are waited out (Retry-After) and read again.
    let sb = sandbox().await;
    strict_graph(&sb);
    let fixture = fixtures::tenant(3);
    let unpaced = RateLimit {
        requests: 1000,
        per_seconds: 1,
    };
    let snap = paced_source(&sb, unpaced)
        .collect(&creds(SECRET), &tenant(3))
        .await
        .unwrap();
    let stats = sb.graph_stats();
    assert!(stats.throttled_429 > 0, "{stats:?}");
    assert!(stats.max_requests_in_any_window > 4, "{stats:?}");
    assert_eq!(
        snap.metadata.data().unwrap().user_count,
        fixture.user_count()
    );
    assert!(snap.conditional_access.data().is_some());
}
