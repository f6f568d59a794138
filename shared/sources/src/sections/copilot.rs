//! Microsoft 365 Copilot: seats bought and assigned, who used it in the last 30 days, idle
//! seats and whether prompts are audited.

use crate::wire::{CopilotUsage, SubscribedSku};
use chrono::{DateTime, NaiveDate, Utc};
use docsync_domain::snapshot::CopilotSummary;

/// Days of activity that make a seat active.
const ACTIVE_WINDOW_DAYS: i64 = 30;

/// True for Copilot SKUs (`Microsoft_365_Copilot`, `Copilot_for_Microsoft_365`, ...).
pub(crate) fn is_copilot_sku(sku: &SubscribedSku) -> bool {
    sku.sku_part_number.to_ascii_lowercase().contains("copilot")
}

/// Copilot seats (enabled, assigned) from the subscribed SKUs.
pub(crate) fn seats(skus: &[SubscribedSku]) -> (u64, u64) {
    skus.iter()
        .filter(|s| is_copilot_sku(s))
        .fold((0, 0), |(enabled, assigned), s| {
            (
                enabled + s.prepaid_units.enabled,
                assigned + s.consumed_units,
            )
        })
}

/// Distinct users whose last Copilot activity is within 30 days of `now`.
pub(crate) fn active_users(usage: &[CopilotUsage], now: DateTime<Utc>) -> u64 {
    let today = now.date_naive();
    let mut seen = std::collections::HashSet::new();
    usage
        .iter()
        .filter(|u| {
            u.user_principal_name.is_empty() || seen.insert(u.user_principal_name.to_lowercase())
        })
        .filter(|u| {
            let text = u.last_activity_date.trim();
            let date = NaiveDate::parse_from_str(text.get(..10).unwrap_or(text), "%Y-%m-%d");
            date.is_ok_and(|d| {
                let age = (today - d).num_days();
                (0..=ACTIVE_WINDOW_DAYS).contains(&age)
            })
        })
        .count() as u64
}

/// Builds the Copilot section.
pub(crate) fn summarise(
    skus: &[SubscribedSku],
    usage: &[CopilotUsage],
    unified_audit: Option<bool>,
    now: DateTime<Utc>,
) -> CopilotSummary {
    let (licences, assigned) = seats(skus);
    let active = active_users(usage, now);
    CopilotSummary {
        licences,
        assigned,
        active_users: active,
        idle_seats: assigned.saturating_sub(active),
        prompt_audit_enabled: unified_audit,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::Page;

    #[test]
    fn idle_seats_are_assigned_minus_recently_active() {
        let skus: Page<SubscribedSku> = serde_json::from_str(
            r#"{"value":[{"skuPartNumber":"SPE_E5","consumedUnits":40,"prepaidUnits":{"enabled":40}},
                         {"skuPartNumber":"Microsoft_365_Copilot","consumedUnits":10,"prepaidUnits":{"enabled":12}}]}"#,
        )
        .unwrap();
        let usage: Page<CopilotUsage> = serde_json::from_str(
            r#"{"value":[{"reportRefreshDate":"2024-06-01","userPrincipalName":"a@x.com","displayName":"A","lastActivityDate":"2024-05-30","microsoftTeamsCopilotLastActivityDate":"2024-05-30"},
                         {"userPrincipalName":"b@x.com","lastActivityDate":"2024-04-01"},
                         {"userPrincipalName":"c@x.com","lastActivityDate":""},
                         {"userPrincipalName":"d@x.com","lastActivityDate":"2024-05-02"}]}"#,
        )
        .unwrap();
        let now = "2024-06-01T08:00:00Z".parse().unwrap();
        let c = summarise(&skus.value, &usage.value, Some(true), now);
        assert_eq!(
            (c.licences, c.assigned, c.active_users, c.idle_seats),
            (12, 10, 2, 8)
        );
        assert_eq!(c.prompt_audit_enabled, Some(true));
    }

    #[test]
    fn idle_never_goes_below_zero() {
        let usage: Vec<CopilotUsage> = (0..5)
            .map(|i| CopilotUsage {
                user_principal_name: format!("u{i}@x.com"),
                last_activity_date: "2024-06-01".into(),
            })
            .collect();
        let now = "2024-06-01T08:00:00Z".parse().unwrap();
        let c = summarise(&[], &usage, None, now);
        assert_eq!((c.licences, c.idle_seats), (0, 0));
    }
}
