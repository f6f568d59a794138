//! The Hudu article body: a posture snapshot rendered as plain, readable HTML (an `h2` per
//! section, tables for lists). Every piece of text from the tenant or Microsoft is escaped; an
//! unavailable section shows "Not collected: <reason>" instead of its data.

use chrono::{DateTime, Utc};
use docsync_domain::snapshot::{
    AuthenticationMethods, CheckOutcome, ComplianceScores, ConditionalAccessSummary,
    CopilotSummary, DefenderSurface, ExchangePosture, MfaAdoption, Section, StandardsStatus,
    TenantMetadata,
};
use docsync_domain::{PostureSection, Snapshot};
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A time as people read it: `2024-06-01 08:00:00 UTC`.
fn human_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A number without a needless `.0`.
fn num(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{:.1}", value)
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "Yes"
    } else {
        "No"
    }
}

/// Accumulates the article.
struct Html(String);

impl Html {
    fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    fn h2(&mut self, title: &str) {
        let _ = writeln!(self.0, "<h2>{}</h2>", escape(title));
    }

    fn h3(&mut self, title: &str) {
        let _ = writeln!(self.0, "<h3>{}</h3>", escape(title));
    }

    fn p(&mut self, text: &str) {
        let _ = writeln!(self.0, "<p>{}</p>", escape(text));
    }

    /// A two-column table of facts.
    fn facts(&mut self, rows: &[(&str, String)]) {
        self.raw("<table>\n<tbody>\n");
        for (label, value) in rows {
            let _ = writeln!(
                self.0,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(label),
                escape(value)
            );
        }
        self.raw("</tbody>\n</table>\n");
    }

    /// A table with a header row; cells are escaped.
    fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        self.raw("<table>\n<thead><tr>");
        for h in header {
            let _ = write!(self.0, "<th>{}</th>", escape(h));
        }
        self.raw("</tr></thead>\n<tbody>\n");
        for row in rows {
            self.raw("<tr>");
            for cell in row {
                let _ = write!(self.0, "<td>{}</td>", escape(cell));
            }
            self.raw("</tr>\n");
        }
        self.raw("</tbody>\n</table>\n");
    }

    /// A bulleted list, or `empty` as a paragraph when there are no items.
    fn list(&mut self, items: &[String], empty: &str) {
        if items.is_empty() {
            self.p(empty);
            return;
        }
        self.raw("<ul>\n");
        for item in items {
            let _ = writeln!(self.0, "<li>{}</li>", escape(item));
        }
        self.raw("</ul>\n");
    }

    /// Renders a section's data, or its unavailability reason.
    fn section<T>(&mut self, section: &Section<T>, body: impl FnOnce(&mut Self, &T)) {
        match section {
            Section::Collected { data } => body(self, data),
            Section::Unavailable { reason } => {
                let _ = writeln!(
                    self.0,
                    "<p><strong>Not collected:</strong> {}</p>",
                    escape(reason)
                );
            }
        }
    }
}

/// One part of the snapshot rendered on its own: the Hudu article puts them under headings,
/// IT Glue keeps each in a field of the flexible asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedSection {
    /// The heading, also the IT Glue field name.
    pub title: &'static str,
    /// The option that selects it (`sections`); None for the timestamps, always written.
    pub section: Option<PostureSection>,
    /// The HTML body.
    pub html: String,
}

/// The titles [`render_sections`] gives its sections, in order (IT Glue's fields are made
/// from them before any snapshot exists).
pub const SECTION_TITLES: [&str; 9] = [
    "Last sync and push",
    "Tenant metadata",
    "MFA adoption",
    "Conditional Access",
    "Standards status",
    "Compliance scores",
    "Defender",
    "Exchange Online",
    "Copilot",
];

/// Every section of the snapshot, in reading order.
pub fn render_sections(snapshot: &Snapshot, pushed_at: DateTime<Utc>) -> Vec<RenderedSection> {
    use PostureSection as S;
    fn one(
        title: &'static str,
        section: Option<PostureSection>,
        render: impl FnOnce(&mut Html),
    ) -> RenderedSection {
        let mut h = Html(String::with_capacity(2048));
        render(&mut h);
        RenderedSection {
            title,
            section,
            html: h.0,
        }
    }
    vec![
        one("Last sync and push", None, |h| {
            h.facts(&[
                ("Last sync", human_time(snapshot.collected_at)),
                ("Last push", human_time(pushed_at)),
            ])
        }),
        one("Tenant metadata", Some(S::Metadata), |h| {
            h.section(&snapshot.metadata, |h, m| metadata(h, snapshot, m))
        }),
        one("MFA adoption", Some(S::Metadata), |h| {
            h.section(&snapshot.mfa, mfa)
        }),
        one("Conditional Access", Some(S::ConditionalAccess), |h| {
            h.section(&snapshot.conditional_access, conditional_access);
            h.h3("Authentication methods");
            h.section(&snapshot.authentication_methods, authentication_methods);
        }),
        one("Standards status", Some(S::Standards), |h| {
            standards(h, &snapshot.standards)
        }),
        one("Compliance scores", Some(S::Compliance), |h| {
            compliance(h, &snapshot.compliance)
        }),
        one("Defender", Some(S::Defender), |h| {
            h.section(&snapshot.defender, defender)
        }),
        one("Exchange Online", Some(S::Exchange), |h| {
            h.section(&snapshot.exchange, exchange)
        }),
        one("Copilot", Some(S::Copilot), |h| {
            h.section(&snapshot.copilot, copilot)
        }),
    ]
}

/// The sections `sections` selects (the timestamps always), in reading order.
pub fn render_selected(
    snapshot: &Snapshot,
    pushed_at: DateTime<Utc>,
    sections: &[PostureSection],
) -> Vec<RenderedSection> {
    render_sections(snapshot, pushed_at)
        .into_iter()
        .filter(|r| r.section.is_none_or(|s| sections.contains(&s)))
        .collect()
}

/// The article's opening paragraph (the tenant's name, and that the article is rewritten).
pub fn intro(snapshot: &Snapshot) -> String {
    format!(
        "<p>Microsoft 365 posture of <strong>{}</strong>, mirrored by docsync. This article is \
         rewritten on every push: put your own notes in a separate article.</p>\n",
        escape(&snapshot.tenant_name)
    )
}

/// Renders the Hudu article body for a snapshot pushed at `pushed_at`, every section.
pub fn render_article_html(snapshot: &Snapshot, pushed_at: DateTime<Utc>) -> String {
    render_article_sections(snapshot, pushed_at, &PostureSection::ALL)
}

/// The built-in article body with only the `sections` chosen (the timestamps always).
pub fn render_article_sections(
    snapshot: &Snapshot,
    pushed_at: DateTime<Utc>,
    sections: &[PostureSection],
) -> String {
    let mut h = Html(String::with_capacity(16 * 1024));
    h.raw(&intro(snapshot));
    for section in render_selected(snapshot, pushed_at, sections) {
        h.h2(section.title);
        h.raw(&section.html);
    }
    h.0
}

fn metadata(h: &mut Html, snapshot: &Snapshot, m: &TenantMetadata) {
    let mfa = snapshot.mfa.data().map_or_else(
        || "not collected".to_owned(),
        |a| format!("{}% of users", num(a.percent)),
    );
    h.facts(&[
        ("Organisation", m.display_name.clone()),
        ("Primary domain", m.primary_domain.clone()),
        ("Tenant ID", snapshot.microsoft_tenant_id.clone()),
        ("Verified domains", m.verified_domains.join(", ")),
        ("Users", m.user_count.to_string()),
        ("MFA adoption", mfa),
    ]);
    h.h3("Licences");
    if m.licences.is_empty() {
        h.p("No subscribed licences.");
    } else {
        let rows: Vec<Vec<String>> = m
            .licences
            .iter()
            .map(|l| {
                vec![
                    l.sku_part_number.clone(),
                    l.consumed.to_string(),
                    l.enabled.to_string(),
                ]
            })
            .collect();
        h.table(&["Licence (SKU)", "Assigned", "Purchased"], &rows);
    }
}

fn mfa(h: &mut Html, m: &MfaAdoption) {
    let mut facts = vec![
        (
            "Member users registered for MFA",
            format!("{} of {} ({}%)", m.registered, m.users, num(m.percent)),
        ),
        (
            "Admins registered for MFA",
            format!("{} of {}", m.admins_registered, m.admins),
        ),
    ];
    if m.guests > 0 {
        facts.push((
            "Guests registered for MFA (not in adoption)",
            format!("{} of {}", m.guests_registered, m.guests),
        ));
    }
    h.facts(&facts);
    if !m.admins_without_mfa.is_empty() {
        h.h3("Admins without MFA");
        h.list(&m.admins_without_mfa, "");
    }
}

fn conditional_access(h: &mut Html, s: &ConditionalAccessSummary) {
    h.facts(&[
        ("Policies", s.policy_count.to_string()),
        ("Enabled", s.enabled.to_string()),
        ("Report-only", s.report_only.to_string()),
        ("Disabled", s.disabled.to_string()),
    ]);
    h.h3("Key gaps");
    h.list(&s.key_gaps, "No key gaps found.");
    h.h3("Policies");
    if s.policies.is_empty() {
        h.p("No Conditional Access policies.");
        return;
    }
    let rows: Vec<Vec<String>> = s
        .policies
        .iter()
        .map(|p| {
            let state = match p.state.as_str() {
                "enabled" => "On",
                "disabled" => "Off",
                "enabledForReportingButNotEnforced" => "Report-only",
                other => other,
            };
            let apps = if p.all_applications {
                "All".to_owned()
            } else if p.include_applications.is_empty() {
                "None".to_owned()
            } else {
                p.include_applications.join(", ")
            };
            let operator = if p.grant_operator.eq_ignore_ascii_case("AND") {
                " AND "
            } else {
                " OR "
            };
            vec![
                p.name.clone(),
                state.to_owned(),
                p.target_users.clone(),
                apps,
                p.grant_controls.join(operator),
            ]
        })
        .collect();
    h.table(
        &["Policy", "State", "Targets", "Apps", "Grant controls"],
        &rows,
    );
}

/// The authentication methods policy as a short list: each method and whether it is on.
fn authentication_methods(h: &mut Html, a: &AuthenticationMethods) {
    let items: Vec<String> = a
        .methods
        .iter()
        .map(|m| {
            let state = match m.state.as_str() {
                "enabled" => "On",
                "disabled" => "Off",
                other => other,
            };
            format!("{}: {state}", method_name(&m.id))
        })
        .collect();
    h.list(&items, "The policy configures no methods.");
}

/// A method's name as the Entra admin center shows it (its policy id when unknown).
fn method_name(id: &str) -> &str {
    match id.to_ascii_lowercase().as_str() {
        "fido2" => "Passkey (FIDO2)",
        "microsoftauthenticator" => "Microsoft Authenticator",
        "sms" => "SMS",
        "temporaryaccesspass" => "Temporary Access Pass",
        "hardwareoath" => "Hardware OATH tokens",
        "softwareoath" => "Third-party software OATH tokens",
        "voice" => "Voice call",
        "email" => "Email OTP",
        "x509certificate" => "Certificate-based authentication",
        _ => id,
    }
}

fn outcome_label(outcome: CheckOutcome) -> &'static str {
    match outcome {
        CheckOutcome::Pass => "Pass",
        CheckOutcome::Fail => "Fail",
        CheckOutcome::Unknown => "Unknown",
        CheckOutcome::NotApplicable => "N/A",
    }
}

fn standards(h: &mut Html, s: &StandardsStatus) {
    h.facts(&[
        ("Baselines applied (passing)", s.applied.to_string()),
        ("Open drift", s.open_drift.len().to_string()),
        ("Unknown", s.unknown.to_string()),
        ("Not applicable", s.not_applicable.to_string()),
    ]);
    h.h3("Open drift");
    let drift: Vec<String> = s
        .open_drift
        .iter()
        .map(|id| {
            s.baselines
                .iter()
                .find(|b| &b.id == id)
                .map_or_else(|| id.clone(), |b| format!("{}: {}", b.id, b.title))
        })
        .collect();
    h.list(&drift, "No open drift.");
    h.h3("Baselines");
    let rows: Vec<Vec<String>> = s
        .baselines
        .iter()
        .map(|b| {
            vec![
                b.id.clone(),
                b.title.clone(),
                outcome_label(b.outcome).to_owned(),
                b.detail.clone(),
            ]
        })
        .collect();
    h.table(&["Check", "Baseline", "Result", "Evidence"], &rows);
}

fn compliance(h: &mut Html, c: &ComplianceScores) {
    if c.frameworks.is_empty() {
        h.p("No framework scores.");
        return;
    }
    let rows: Vec<Vec<String>> = c
        .frameworks
        .iter()
        .map(|f| {
            vec![
                f.framework.clone(),
                f.percent
                    .map_or_else(|| "n/a".to_owned(), |p| format!("{}%", num(p))),
                f.passed.to_string(),
                f.failed.to_string(),
                f.unknown.to_string(),
                f.not_applicable.to_string(),
            ]
        })
        .collect();
    h.table(
        &["Framework", "Score", "Passed", "Failed", "Unknown", "N/A"],
        &rows,
    );
    h.p("Scores are computed by docsync from the collected facts: passed / (passed + failed) of each framework's controls, each control counted once (it fails when any check mapped to it fails). Unknown and not applicable (N/A) controls are outside the score.");
    let controls: Vec<Vec<String>> = c
        .frameworks
        .iter()
        .flat_map(|f| {
            f.controls.iter().map(|control| {
                vec![
                    f.framework.clone(),
                    control.id.clone(),
                    control.title.clone(),
                    outcome_label(control.result).to_owned(),
                    control.checks.join(", "),
                ]
            })
        })
        .collect();
    if !controls.is_empty() {
        h.h3("Controls");
        h.table(
            &["Framework", "Control", "Requirement", "Result", "Checks"],
            &controls,
        );
    }
}

fn defender(h: &mut Html, d: &DefenderSurface) {
    let score = if d.secure_score_max > 0.0 {
        format!("{} of {}", num(d.secure_score), num(d.secure_score_max))
    } else {
        "not computed yet".to_owned()
    };
    h.facts(&[
        (
            "Active high-severity incidents",
            d.active_high_incidents.len().to_string(),
        ),
        ("Secure score", score),
        (
            "Open recommendations",
            d.open_recommendation_count.to_string(),
        ),
    ]);
    h.h3("Active high-severity incidents");
    if d.active_high_incidents.is_empty() {
        h.p("None.");
    } else {
        let rows: Vec<Vec<String>> = d
            .active_high_incidents
            .iter()
            .map(|i| vec![i.id.clone(), i.title.clone(), i.created.clone()])
            .collect();
        h.table(&["Incident", "Title", "Created"], &rows);
    }
    h.h3("Open recommendations");
    if d.open_recommendations.is_empty() {
        h.p("None.");
    } else {
        let rows: Vec<Vec<String>> = d
            .open_recommendations
            .iter()
            .map(|r| vec![r.title.clone(), r.control.clone(), num(r.score_gap)])
            .collect();
        h.table(&["Recommendation", "Control", "Points to gain"], &rows);
        let listed = d.open_recommendations.len() as u64;
        if d.open_recommendation_count > listed {
            h.p(&format!(
                "Showing the {listed} largest of {} open recommendations.",
                d.open_recommendation_count
            ));
        }
    }
}

fn exchange(h: &mut Html, e: &ExchangePosture) {
    let signing: Vec<&str> = e
        .dkim
        .iter()
        .filter(|d| d.enabled)
        .map(|d| d.domain.as_str())
        .collect();
    h.facts(&[
        (
            "DKIM-enabled domains",
            if signing.is_empty() {
                "none".to_owned()
            } else {
                signing.join(", ")
            },
        ),
        (
            "Unified audit log",
            if e.unified_audit_enabled { "On" } else { "Off" }.to_owned(),
        ),
    ]);
    h.h3("DKIM");
    if e.dkim.is_empty() {
        h.p("No DKIM signing configuration.");
    } else {
        let rows: Vec<Vec<String>> = e
            .dkim
            .iter()
            .map(|d| vec![d.domain.clone(), yes_no(d.enabled).to_owned()])
            .collect();
        h.table(&["Domain", "DKIM signing"], &rows);
    }
    h.h3("Anti-phish policies");
    if e.anti_phish_policies.is_empty() {
        h.p("No anti-phish policies.");
    } else {
        let rows: Vec<Vec<String>> = e
            .anti_phish_policies
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    yes_no(p.enabled).to_owned(),
                    yes_no(p.impersonation_protection).to_owned(),
                ]
            })
            .collect();
        h.table(
            &["Policy", "Enabled", "Mailbox intelligence / impersonation"],
            &rows,
        );
    }
}

fn copilot(h: &mut Html, c: &CopilotSummary) {
    let audit = match c.prompt_audit_enabled {
        Some(true) => "On (unified audit)",
        Some(false) => "Off (unified audit is off)",
        None => "Unknown (Exchange Online not collected)",
    };
    h.facts(&[
        ("Licences", c.licences.to_string()),
        ("Assigned", c.assigned.to_string()),
        ("Active in the last 30 days", c.active_users.to_string()),
        ("Idle seats", c.idle_seats.to_string()),
        ("Prompt audit", audit.to_owned()),
    ]);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use docsync_domain::snapshot::{
        AntiPhishPolicy, AuthenticationMethod, BaselineResult, CaPolicy, ControlResult, DkimDomain,
        FrameworkScore, LicenceLine,
    };
    use docsync_domain::TenantId;

    fn snapshot() -> Snapshot {
        Snapshot {
            tenant_id: TenantId::new(),
            tenant_name: "Contoso <script>alert(1)</script> & \"Sons\"".into(),
            microsoft_tenant_id: "0b6f5c1e-1111-2222-3333-444455556666".into(),
            collected_at: "2024-06-01T08:00:00Z".parse().unwrap(),
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
                guests_registered: 1,
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
                baselines: vec![
                    BaselineResult {
                        id: "DS-03".into(),
                        title: "An enabled Conditional Access policy requires MFA for all users"
                            .into(),
                        outcome: CheckOutcome::Fail,
                        detail: "No enabled policy requires MFA for all users".into(),
                        evidence: vec![],
                        essential_eight: vec!["E8: Multi-factor authentication".into()],
                        apra_cps234: vec![],
                        cis_m365: vec!["CIS 5.2.2.2".into()],
                    },
                    BaselineResult {
                        id: "DS-15".into(),
                        title: "No more than 20% of assigned Copilot seats are idle".into(),
                        outcome: CheckOutcome::NotApplicable,
                        detail: "no Copilot seats assigned: not applicable".into(),
                        evidence: vec![],
                        essential_eight: vec![],
                        apra_cps234: vec![],
                        cis_m365: vec![],
                    },
                ],
                applied: 0,
                open_drift: vec!["DS-03".into()],
                unknown: 0,
                not_applicable: 1,
            },
            compliance: ComplianceScores {
                frameworks: vec![FrameworkScore {
                    framework: "Essential Eight".into(),
                    passed: 3,
                    failed: 1,
                    unknown: 0,
                    not_applicable: 1,
                    percent: Some(75.0),
                    controls: vec![ControlResult {
                        id: "CIS 2.1.9".into(),
                        title: "Ensure that DKIM is enabled for all Exchange Online domains".into(),
                        result: CheckOutcome::NotApplicable,
                        checks: vec!["DS-10".into()],
                    }],
                }],
            },
            transient_gaps: Vec::new(),
        }
    }

    #[test]
    fn every_section_has_a_heading() {
        let html = render_article_html(&snapshot(), "2024-06-01T09:30:00Z".parse().unwrap());
        for heading in [
            "Last sync and push",
            "Tenant metadata",
            "MFA adoption",
            "Conditional Access",
            "Standards status",
            "Compliance scores",
            "Defender",
            "Exchange Online",
            "Copilot",
        ] {
            assert!(
                html.contains(&format!("<h2>{heading}</h2>")),
                "missing {heading}"
            );
        }
        assert!(html.contains("2024-06-01 08:00:00 UTC"));
        assert!(html.contains("2024-06-01 09:30:00 UTC"));
        assert!(html.contains("contoso.com.au"));
        assert!(html.contains("82.9%"));
        assert!(html.contains("DS-03"));
        assert!(html.contains("75%"));
    }

    #[test]
    fn not_applicable_reads_n_a_and_guests_are_apart() {
        let html = render_article_html(&snapshot(), Utc::now());
        assert!(html.contains("<td>DS-15</td>"));
        assert!(html.contains("<td>N/A</td>"));
        assert!(html.contains("<td>CIS 2.1.9</td>"));
        assert!(html.contains("2187 of 2637 (82.9%)"));
        assert!(html.contains("1 of 12"));
    }

    #[test]
    fn authentication_methods_are_listed_with_their_state() {
        let html = render_article_html(&snapshot(), "2024-06-01T08:05:00Z".parse().unwrap());
        assert!(html.contains("<h3>Authentication methods</h3>"), "{html}");
        assert!(
            html.contains("<li>Microsoft Authenticator: On</li>"),
            "{html}"
        );
        assert!(html.contains("<li>SMS: Off</li>"), "{html}");
    }

    #[test]
    fn text_is_escaped() {
        let html = render_article_html(&snapshot(), Utc::now());
        assert!(!html.contains("<script>"));
        assert!(
            html.contains("Contoso &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Sons&quot;")
        );
        assert!(html.contains("Block &lt;legacy&gt; &amp; co"));
    }

    #[test]
    fn an_unavailable_section_shows_its_reason() {
        let html = render_article_html(&snapshot(), Utc::now());
        assert!(html.contains(
            "<strong>Not collected:</strong> Graph answered 403 Forbidden for /v1.0/security/incidents: grant SecurityIncident.Read.All"
        ));
    }

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape(r#"<a href='x'>&"#),
            "&lt;a href=&#39;x&#39;&gt;&amp;"
        );
    }

    #[test]
    fn section_titles_match_the_rendered_sections() {
        let titles: Vec<&str> = render_sections(&snapshot(), Utc::now())
            .iter()
            .map(|s| s.title)
            .collect();
        assert_eq!(titles, SECTION_TITLES);
    }
}
