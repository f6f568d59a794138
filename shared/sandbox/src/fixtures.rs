//! Deterministic synthetic tenants: every figure the emulators serve comes from here, so
//! end-to-end tests can compute what docsync should publish.
//!
//! Rules (index = fixture index, 0-based):
//! - `index % 10 == 0`: a large tenant of 2,600..3,200 users (exercises paging); otherwise
//!   15..400 users.
//! - `index % 9 == 4`: the app lacks Exchange permission (`denied` has `"exchange"`: 403).
//! - `index % 11 == 5`: the app lacks Defender permission (`denied` has `"defender"`: 403 on
//!   `/security/*`).
//! - `index % 4 == 3`: no legacy-authentication block; `index % 5 == 2`: no admin-MFA policy;
//!   `index % 13 == 12`: no Conditional Access policies at all.
//! - `index % 4 == 1`: has `Microsoft_365_Copilot` licences.
//! - `index % 17 == 16`: no custom domain, only `*.onmicrosoft.com` (DKIM is not applicable).
//! - `index % 4 == 2`: a tenth of the users are guests (`userType` guest, never admins).
//! - Conditional Access as it really enforces: `index % 5 == 4` scopes "Require MFA for all
//!   users" to Office 365 only (`includeApplications` not `All`); `index % 9 == 6` grants it as
//!   `mfa` OR `compliantDevice`; even indices exclude a break-glass account from the admin
//!   policy; `index % 4 == 0` excludes the directory-sync role from the all-users policy.
//! - Anti-phish: the default policy has only mailbox intelligence, off when `index % 6 == 5`
//!   (those tenants fail DS-11 unless they have an enabled custom policy: `index % 6 == 0`).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// The namespace of fixture tenant ids (uuid v5 of `docsync-sandbox-tenant-{index}`).
pub const TENANT_NAMESPACE: Uuid = Uuid::from_u128(0x6d5c_0a52_9f1e_4b7a_9c3d_2e8f_0b1a_7c44);

/// The role template id of Global Administrator.
pub const GLOBAL_ADMIN_ROLE: &str = "62e90394-69f5-4237-9190-012177145e10";

/// The role template id of Directory Synchronization Accounts.
pub const DIRECTORY_SYNC_ROLE: &str = "d29b2b05-8046-44ba-8758-1e26182fcf32";

/// One synthetic Microsoft tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantFixture {
    /// Fixture index.
    pub index: usize,
    /// Entra tenant id.
    pub microsoft_tenant_id: String,
    /// Organization display name (unique per index).
    pub display_name: String,
    /// Verified domains; the first is the default, the last is the `onmicrosoft.com` one.
    pub domains: Vec<String>,
    /// Users (admins first).
    pub users: Vec<FixtureUser>,
    /// Subscribed SKUs.
    pub skus: Vec<FixtureSku>,
    /// Conditional Access policies.
    pub ca_policies: Vec<FixtureCaPolicy>,
    /// The authentication methods policy's methods, `(id, state)` in the policy's order
    /// (`enabled` or `disabled`); SMS and voice are off in every tenant but every fifth.
    pub auth_methods: Vec<(String, String)>,
    /// Active incidents of high severity (0..=3); others are served alongside.
    pub high_active_incidents: u32,
    /// Secure score `(current, max)`; the sums of `control_scores`.
    pub secure_score: (f64, f64),
    /// Secure score per control.
    pub control_scores: Vec<FixtureControlScore>,
    /// DKIM signing per domain.
    pub dkim: Vec<FixtureDkim>,
    /// Anti-phishing policies.
    pub anti_phish_policies: Vec<FixtureAntiPhish>,
    /// Whether unified audit log ingestion is on.
    pub unified_audit_enabled: bool,
    /// Sections the app lacks permission for: `"exchange"`, `"defender"`.
    pub denied: Vec<&'static str>,
}

/// A user and their registration / Copilot facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureUser {
    /// Object id.
    pub id: String,
    /// User principal name.
    pub upn: String,
    /// Display name.
    pub display_name: String,
    /// Holds an admin role.
    pub is_admin: bool,
    /// A guest (B2B) account (`userType` guest).
    pub is_guest: bool,
    /// Has registered an MFA method.
    pub is_mfa_registered: bool,
    /// Can do MFA (registered, or has a capable method).
    pub is_mfa_capable: bool,
    /// Holds a Copilot licence.
    pub copilot_licensed: bool,
    /// Used Copilot in the last 30 days (only when licensed).
    pub copilot_active_last_30d: bool,
}

/// A subscribed SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureSku {
    /// Part number, e.g. `SPE_E3`.
    pub sku_part_number: String,
    /// Microsoft's SKU id.
    pub sku_id: String,
    /// Assigned units.
    pub consumed: u32,
    /// Purchased units.
    pub enabled: u32,
}

/// A Conditional Access policy's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureCaPolicy {
    /// Policy id.
    pub id: String,
    /// Name.
    pub display_name: String,
    /// `enabled`, `disabled` or `enabledForReportingButNotEnforced`.
    pub state: String,
    /// `conditions.users.includeUsers` (`All` or ids).
    pub include_users: Vec<String>,
    /// `conditions.users.excludeUsers`.
    pub exclude_users: Vec<String>,
    /// `conditions.users.includeRoles` (role template ids).
    pub include_roles: Vec<String>,
    /// `conditions.users.excludeRoles` (role template ids).
    pub exclude_roles: Vec<String>,
    /// `conditions.applications.includeApplications` (`All`, `Office365` or app ids).
    pub include_applications: Vec<String>,
    /// `grantControls.operator`: `OR` or `AND`.
    pub grant_operator: String,
    /// `conditions.clientAppTypes`.
    pub client_app_types: Vec<String>,
    /// `grantControls.builtInControls` (`mfa`, `block`, ...).
    pub built_in_controls: Vec<String>,
    /// `conditions.signInRiskLevels`.
    pub sign_in_risk_levels: Vec<String>,
    /// `conditions.userRiskLevels`.
    pub user_risk_levels: Vec<String>,
}

/// One secure score control.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureControlScore {
    /// Control name (also the control profile id).
    pub control_name: String,
    /// Category (Identity, Data, Apps, Device).
    pub control_category: String,
    /// The control profile's title.
    pub title: String,
    /// Points achieved.
    pub score: f64,
    /// Points available.
    pub max_score: f64,
}

/// DKIM signing for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureDkim {
    /// Domain.
    pub domain: String,
    /// Signing on.
    pub enabled: bool,
}

/// An anti-phishing policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureAntiPhish {
    /// Name.
    pub name: String,
    /// Policy on.
    pub enabled: bool,
    /// Mailbox intelligence on.
    pub mailbox_intelligence: bool,
    /// `EnableTargetedUserProtection` (impersonation protection for named users).
    pub targeted_user_protection: bool,
    /// `EnableOrganizationDomainsProtection` (impersonation protection for own domains).
    pub organization_domains_protection: bool,
    /// The built-in default policy.
    pub is_default: bool,
}

const NAMES: [&str; 24] = [
    "Contoso",
    "Fabrikam",
    "Northwind",
    "Adventure Works",
    "Tailspin",
    "Wingtip",
    "Litware",
    "Woodgrove",
    "Proseware",
    "Alpine Ski House",
    "Coho Winery",
    "Lucerne",
    "Margie's Travel",
    "Trey Research",
    "Wide World",
    "Blue Yonder",
    "Fourth Coffee",
    "Humongous",
    "Relecloud",
    "Southridge",
    "VanArsdel",
    "Bellows",
    "Consolidated",
    "First Up",
];
const SUFFIXES: [&str; 6] = [
    "Pty Ltd",
    "Legal",
    "Accounting",
    "Medical Group",
    "Holdings",
    "Engineering",
];
const TLDS: [&str; 4] = ["com.au", "com", "net.au", "co.nz"];
const FIRST: [&str; 16] = [
    "Olivia",
    "Jack",
    "Charlotte",
    "William",
    "Amelia",
    "Noah",
    "Isla",
    "Oliver",
    "Mia",
    "Leo",
    "Ava",
    "Henry",
    "Grace",
    "Lucas",
    "Chloe",
    "Thomas",
];
const LAST: [&str; 16] = [
    "Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Johnson", "Martin",
    "White", "Anderson", "Walker", "Thompson", "Lee", "Harris", "Ryan",
];
const CONTROLS: [(&str, &str, &str, f64); 8] = [
    (
        "AdminMFAV2",
        "Identity",
        "Ensure multifactor authentication is enabled for all users in administrative roles",
        10.0,
    ),
    (
        "MFARegistrationV2",
        "Identity",
        "Ensure multifactor authentication is enabled for all users",
        9.0,
    ),
    (
        "BlockLegacyAuthentication",
        "Identity",
        "Enable Conditional Access policies to block legacy authentication",
        8.0,
    ),
    (
        "SigninRiskPolicy",
        "Identity",
        "Turn on sign-in risk policy",
        7.0,
    ),
    (
        "mdo_safelinksforemail",
        "Apps",
        "Create Safe Links policies for email messages",
        9.0,
    ),
    (
        "mdo_safeattachments",
        "Apps",
        "Turn on Safe Attachments in block mode",
        8.0,
    ),
    (
        "OneAdmin",
        "Identity",
        "Designate more than one global admin",
        1.0,
    ),
    (
        "mdo_auditlog",
        "Apps",
        "Ensure audit data recording is enabled",
        3.0,
    ),
];

/// The Entra tenant id of fixture `index` (cheap: no users are generated).
pub fn microsoft_tenant_id(index: usize) -> String {
    Uuid::new_v5(
        &TENANT_NAMESPACE,
        format!("docsync-sandbox-tenant-{index}").as_bytes(),
    )
    .to_string()
}

/// The organization name of fixture `index` (cheap), e.g. `Contoso Pty Ltd 24`.
pub fn display_name(index: usize) -> String {
    let base = NAMES[index % NAMES.len()];
    let suffix = SUFFIXES[(index / NAMES.len() + index) % SUFFIXES.len()];
    format!("{base} {suffix} {index}")
}

/// The name of Hudu company `id`: the display name of fixture `id - 1`, so company `i + 1` is
/// the natural mapping of tenant `i`.
pub fn hudu_company_name(id: u64) -> String {
    display_name(usize::try_from(id.saturating_sub(1)).unwrap_or(usize::MAX))
}

/// Finds the fixture with this Entra tenant id among the first `count`.
pub fn tenant_by_microsoft_id(id: &str, count: usize) -> Option<TenantFixture> {
    let id = id.to_ascii_lowercase();
    (0..count)
        .find(|&i| microsoft_tenant_id(i) == id)
        .map(tenant)
}

/// Generates fixture `index` (deterministic; about a millisecond for the largest).
pub fn tenant(index: usize) -> TenantFixture {
    tenant_sized(index, None)
}

/// Fixture `index` with exactly `users` users when given (a very large tenant); everything
/// else is as [`tenant`] makes it.
pub fn tenant_sized(index: usize, users: Option<usize>) -> TenantFixture {
    let mut rng = StdRng::seed_from_u64(0xD0C5_0000 ^ index as u64);
    let slug: String = NAMES[index % NAMES.len()]
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let mut domains = Vec::new();
    if index % 17 != 16 {
        domains.push(format!("{slug}{index}.{}", TLDS[index % TLDS.len()]));
        if index.is_multiple_of(2) {
            domains.push(format!("{slug}{index}mail.net"));
        }
    }
    domains.push(format!("{slug}{index}.onmicrosoft.com"));

    let drawn = if index.is_multiple_of(10) {
        rng.random_range(2600..=3200)
    } else {
        rng.random_range(15..=400)
    };
    let user_count = users.unwrap_or(drawn);
    let has_copilot = index % 4 == 1;
    let mfa_rate = rng.random_range(0.35..0.98);
    let admins = rng.random_range(2..=5usize);
    let copilot_seats = if has_copilot {
        (user_count / 5).max(3)
    } else {
        0
    };
    let guests = if index % 4 == 2 { user_count / 10 } else { 0 };
    let users = (0..user_count)
        .map(|i| {
            let (first, last) = (
                FIRST[rng.random_range(0..FIRST.len())],
                LAST[rng.random_range(0..LAST.len())],
            );
            let is_admin = i < admins;
            let is_guest = i >= user_count - guests;
            let is_mfa_registered = rng.random_bool(if is_admin { 0.8 } else { mfa_rate });
            let copilot_licensed = i < copilot_seats;
            let (first_l, last_l) = (first.to_lowercase(), last.to_lowercase());
            let upn = if is_guest {
                let initial = domains.last().map(String::as_str).unwrap_or_default();
                format!("{first_l}.{last_l}{i}_partner.example#EXT#@{initial}")
            } else {
                format!("{first_l}.{last_l}{i}@{}", domains[0])
            };
            FixtureUser {
                id: Uuid::from_u128(rng.random::<u128>()).to_string(),
                upn,
                display_name: format!("{first} {last}"),
                is_admin,
                is_guest,
                is_mfa_registered,
                is_mfa_capable: is_mfa_registered || rng.random_bool(0.1),
                copilot_licensed,
                copilot_active_last_30d: copilot_licensed && rng.random_bool(0.6),
            }
        })
        .collect::<Vec<_>>();

    let users_u32 = u32::try_from(user_count).unwrap_or(u32::MAX);
    let (part, sku_id) = match index % 3 {
        0 => ("SPE_E3", "05e9a617-0261-4cee-bb44-138d3ef5d965"),
        1 => ("SPE_E5", "06ebc4ee-1bb5-47dd-8120-11324bc54e06"),
        _ => (
            "O365_BUSINESS_PREMIUM",
            "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
        ),
    };
    let mut skus = vec![sku(
        part,
        sku_id,
        users_u32,
        users_u32 + rng.random_range(0..20),
    )];
    if index.is_multiple_of(5) {
        skus.push(sku(
            "AAD_PREMIUM_P2",
            "eec0eb4f-6444-4f95-aba0-50c24d67f998",
            10,
            10,
        ));
    }
    if has_copilot {
        let seats = u32::try_from(copilot_seats).unwrap_or(u32::MAX);
        skus.push(sku(
            "Microsoft_365_Copilot",
            "639dec6b-bb19-468b-871c-c5c441c4b0cb",
            seats,
            seats + 2,
        ));
    }

    let ca_policies = ca_policies(index);
    let control_scores = control_scores(index, &ca_policies, &mut rng);
    let secure_score = control_scores
        .iter()
        .fold((0.0, 0.0), |(s, m), c| (s + c.score, m + c.max_score));
    let dkim = domains
        .iter()
        .enumerate()
        .map(|(d, domain)| FixtureDkim {
            domain: domain.clone(),
            enabled: domain.ends_with(".onmicrosoft.com") || !(index + d).is_multiple_of(3),
        })
        .collect();
    let mut anti_phish_policies = vec![FixtureAntiPhish {
        name: "Office365 AntiPhish Default".into(),
        enabled: true,
        mailbox_intelligence: index % 6 != 5,
        targeted_user_protection: false,
        organization_domains_protection: false,
        is_default: true,
    }];
    if index.is_multiple_of(3) {
        anti_phish_policies.push(FixtureAntiPhish {
            name: "Executive impersonation protection".into(),
            enabled: index.is_multiple_of(2),
            mailbox_intelligence: true,
            targeted_user_protection: true,
            organization_domains_protection: true,
            is_default: false,
        });
    }
    let mut denied = Vec::new();
    if index % 9 == 4 {
        denied.push("exchange");
    }
    if index % 11 == 5 {
        denied.push("defender");
    }
    TenantFixture {
        index,
        microsoft_tenant_id: microsoft_tenant_id(index),
        display_name: display_name(index),
        domains,
        users,
        skus,
        ca_policies,
        auth_methods: auth_methods(index),
        high_active_incidents: u32::try_from((index * 7) % 4).unwrap_or(0),
        secure_score,
        control_scores,
        dkim,
        anti_phish_policies,
        unified_audit_enabled: index % 7 != 6,
        denied,
    }
}

/// The methods Entra's authentication methods policy configures, as a new tenant has them
/// (Authenticator and FIDO2 on), with SMS and voice on in every fifth tenant.
fn auth_methods(index: usize) -> Vec<(String, String)> {
    let legacy = if index % 5 == 3 {
        "enabled"
    } else {
        "disabled"
    };
    [
        ("Fido2", "enabled"),
        ("MicrosoftAuthenticator", "enabled"),
        ("Sms", legacy),
        ("TemporaryAccessPass", "disabled"),
        ("HardwareOath", "disabled"),
        ("SoftwareOath", "disabled"),
        ("Voice", legacy),
        ("Email", "disabled"),
        ("X509Certificate", "disabled"),
    ]
    .into_iter()
    .map(|(id, state)| (id.to_owned(), state.to_owned()))
    .collect()
}

fn sku(part: &str, id: &str, consumed: u32, enabled: u32) -> FixtureSku {
    FixtureSku {
        sku_part_number: part.into(),
        sku_id: id.into(),
        consumed,
        enabled,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn ca_policies(index: usize) -> Vec<FixtureCaPolicy> {
    if index % 13 == 12 {
        return Vec::new();
    }
    let policy = |n: usize, name: &str, state: &str| FixtureCaPolicy {
        id: Uuid::new_v5(&TENANT_NAMESPACE, format!("ca-{index}-{n}").as_bytes()).to_string(),
        display_name: name.into(),
        state: state.into(),
        include_users: Vec::new(),
        exclude_users: Vec::new(),
        include_roles: Vec::new(),
        exclude_roles: Vec::new(),
        include_applications: strings(&["All"]),
        grant_operator: "OR".into(),
        client_app_types: strings(&["all"]),
        built_in_controls: strings(&["mfa"]),
        sign_in_risk_levels: Vec::new(),
        user_risk_levels: Vec::new(),
    };
    let mut out = Vec::new();
    if index % 5 != 2 {
        let state = if index % 7 == 3 {
            "enabledForReportingButNotEnforced"
        } else {
            "enabled"
        };
        let mut p = policy(1, "Require MFA for administrators", state);
        p.include_roles = strings(&[
            GLOBAL_ADMIN_ROLE,
            "e8611ab8-c189-46e8-94e1-60213ab1f814",
            "194ae4cb-b126-40b2-bd5b-6091b380977d",
        ]);
        if index.is_multiple_of(2) {
            p.exclude_users = strings(&[&Uuid::new_v5(
                &TENANT_NAMESPACE,
                format!("break-glass-{index}").as_bytes(),
            )
            .to_string()]);
        }
        out.push(p);
    }
    if index % 4 != 3 {
        let mut p = policy(2, "Block legacy authentication", "enabled");
        p.include_users = strings(&["All"]);
        p.client_app_types = strings(&["exchangeActiveSync", "other"]);
        p.built_in_controls = strings(&["block"]);
        out.push(p);
    }
    let state = if index.is_multiple_of(3) {
        "enabled"
    } else {
        "enabledForReportingButNotEnforced"
    };
    let mut p = policy(3, "Require MFA for all users", state);
    p.include_users = strings(&["All"]);
    p.exclude_users = strings(&["GuestsOrExternalUsers"]);
    if index.is_multiple_of(4) {
        p.exclude_roles = strings(&[DIRECTORY_SYNC_ROLE]);
    }
    if index % 5 == 4 {
        p.include_applications = strings(&["Office365"]);
    }
    if index % 9 == 6 {
        p.built_in_controls = strings(&["mfa", "compliantDevice"]);
    }
    out.push(p);
    if index.is_multiple_of(2) {
        let mut p = policy(4, "Sign-in risk: require MFA", "enabled");
        p.include_users = strings(&["All"]);
        p.sign_in_risk_levels = strings(&["high", "medium"]);
        out.push(p);
    }
    if index.is_multiple_of(6) {
        let mut p = policy(5, "User risk: require password change", "enabled");
        p.include_users = strings(&["All"]);
        p.user_risk_levels = strings(&["high"]);
        p.built_in_controls = strings(&["mfa", "passwordChange"]);
        p.grant_operator = "AND".into();
        out.push(p);
    }
    if index % 8 == 1 {
        let mut p = policy(6, "Test policy - do not use", "disabled");
        p.include_users = strings(&["None"]);
        out.push(p);
    }
    out
}

fn control_scores(
    index: usize,
    ca: &[FixtureCaPolicy],
    rng: &mut StdRng,
) -> Vec<FixtureControlScore> {
    let enabled = |name: &str| {
        ca.iter()
            .any(|p| p.display_name == name && p.state == "enabled")
    };
    CONTROLS
        .iter()
        .map(|&(name, category, title, max)| {
            let score = match name {
                "AdminMFAV2" if enabled("Require MFA for administrators") => max,
                "BlockLegacyAuthentication" if enabled("Block legacy authentication") => max,
                "AdminMFAV2" | "BlockLegacyAuthentication" => 0.0,
                "mdo_auditlog" => {
                    if index % 7 != 6 {
                        max
                    } else {
                        0.0
                    }
                }
                _ => (max * rng.random_range(0.0..=1.0_f64) * 100.0).round() / 100.0,
            };
            FixtureControlScore {
                control_name: name.into(),
                control_category: category.into(),
                title: title.into(),
                score,
                max_score: max,
            }
        })
        .collect()
}

impl TenantFixture {
    /// Member users (not guests) with a registered MFA method, as a percentage rounded to one
    /// decimal: the adoption figure docsync shows.
    pub fn mfa_percent(&self) -> f64 {
        let members = self.member_count();
        if members == 0 {
            return 0.0;
        }
        (self.members_registered() as f64 / members as f64 * 1000.0).round() / 10.0
    }

    /// Member users (`userType` member).
    pub fn member_count(&self) -> u64 {
        self.users.iter().filter(|u| !u.is_guest).count() as u64
    }

    /// Member users with a registered MFA method.
    pub fn members_registered(&self) -> u64 {
        self.users
            .iter()
            .filter(|u| !u.is_guest && u.is_mfa_registered)
            .count() as u64
    }

    /// Guest users.
    pub fn guest_count(&self) -> u64 {
        self.users.iter().filter(|u| u.is_guest).count() as u64
    }

    /// Whether DS-11 passes: an enabled anti-phish policy with mailbox intelligence or
    /// impersonation protection.
    pub fn anti_phish_protected(&self) -> bool {
        self.anti_phish_policies.iter().any(|p| {
            p.enabled
                && (p.mailbox_intelligence
                    || p.targeted_user_protection
                    || p.organization_domains_protection)
        })
    }

    /// Number of users (what `/users/$count` answers).
    pub fn user_count(&self) -> u64 {
        self.users.len() as u64
    }

    /// Admins without a registered MFA method.
    pub fn admins_without_mfa(&self) -> usize {
        self.users
            .iter()
            .filter(|u| u.is_admin && !u.is_mfa_registered)
            .count()
    }

    /// The default (first) domain.
    pub fn default_domain(&self) -> &str {
        self.domains.first().map(String::as_str).unwrap_or_default()
    }

    /// Whether the app lacks permission for `section` (`"exchange"`, `"defender"`).
    pub fn is_denied(&self, section: &str) -> bool {
        self.denied.contains(&section)
    }

    /// Copilot-licensed users with no activity in the last 30 days.
    pub fn copilot_idle_seats(&self) -> usize {
        self.users
            .iter()
            .filter(|u| u.copilot_licensed && !u.copilot_active_last_30d)
            .count()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn fixtures_are_deterministic_and_follow_the_rules() {
        let all: Vec<TenantFixture> = (0..60).map(tenant).collect();
        assert_eq!(all[17], tenant(17));
        for t in &all {
            let n = t.users.len();
            if t.index % 10 == 0 {
                assert!(
                    (2600..=3200).contains(&n),
                    "tenant {} has {n} users",
                    t.index
                );
            } else {
                assert!((15..=400).contains(&n), "tenant {} has {n} users", t.index);
            }
            assert_eq!(t.is_denied("exchange"), t.index % 9 == 4);
            assert_eq!(t.is_denied("defender"), t.index % 11 == 5);
            assert_eq!(t.domains.len() == 1, t.index % 17 == 16);
            assert!((1..=3).contains(&t.domains.len()));
            assert!(t.domains.last().unwrap().ends_with(".onmicrosoft.com"));
            assert_eq!(t.dkim.len(), t.domains.len());
            let upns: HashSet<&str> = t.users.iter().map(|u| u.upn.as_str()).collect();
            assert_eq!(upns.len(), n, "UPNs are unique");
            assert!(t
                .skus
                .iter()
                .any(|s| ["SPE_E3", "SPE_E5", "O365_BUSINESS_PREMIUM"]
                    .contains(&s.sku_part_number.as_str())));
            let copilot = t
                .skus
                .iter()
                .find(|s| s.sku_part_number == "Microsoft_365_Copilot");
            let licensed = t.users.iter().filter(|u| u.copilot_licensed).count();
            assert_eq!(copilot.map_or(0, |s| s.consumed as usize), licensed);
            assert!(t.high_active_incidents <= 3);
            assert!(t.secure_score.0 <= t.secure_score.1);
            assert!((0.0..=100.0).contains(&t.mfa_percent()));
            assert_eq!(
                tenant_by_microsoft_id(&t.microsoft_tenant_id.to_uppercase(), 60)
                    .unwrap()
                    .index,
                t.index
            );
        }
        let names: HashSet<String> = (1..=120).map(hudu_company_name).collect();
        assert_eq!(names.len(), 120);
        assert_eq!(hudu_company_name(4), all[3].display_name);
        let has =
            |t: &TenantFixture, name: &str| t.ca_policies.iter().any(|p| p.display_name == name);
        assert!(all.iter().any(|t| !has(t, "Block legacy authentication")));
        assert!(all
            .iter()
            .any(|t| !has(t, "Require MFA for administrators")));
        assert!(all.iter().any(|t| t.ca_policies.is_empty()));
        assert!(all.iter().any(|t| t.copilot_idle_seats() > 0));
        assert!(all.iter().any(|t| t.admins_without_mfa() > 0));
        assert!(all.iter().any(|t| t.guest_count() > 0));
        assert!(all
            .iter()
            .all(|t| t.users.iter().all(|u| !(u.is_guest && u.is_admin))));
        let phish_fails =
            |t: &&TenantFixture| !t.anti_phish_protected() && !t.is_denied("exchange");
        assert!(all.iter().filter(phish_fails).count() >= 5);
        assert!(all.iter().any(|t| t.anti_phish_protected()));
        assert_eq!(
            tenant_by_microsoft_id("00000000-0000-0000-0000-000000000000", 60),
            None
        );
    }
}
