//! Defender: active high-severity incidents, the latest secure score, and the controls still
//! short of their full score (worst gap first).

use crate::wire::{ControlProfile, Incident as WireIncident, SecureScore};
use docsync_domain::snapshot::{DefenderSurface, Incident, Recommendation};
use std::collections::HashMap;

/// How many open recommendations are listed.
const MAX_LISTED: usize = 25;

/// Builds the Defender section.
pub(crate) fn summarise(
    incidents: &[WireIncident],
    scores: &[SecureScore],
    profiles: &[ControlProfile],
) -> DefenderSurface {
    let active_high_incidents = incidents
        .iter()
        .filter(|i| {
            i.severity.eq_ignore_ascii_case("high") && i.status.eq_ignore_ascii_case("active")
        })
        .map(|i| Incident {
            id: i.id.clone(),
            title: i.display_name.clone(),
            created: i.created_date_time.clone(),
        })
        .collect();
    let latest = scores.first();
    let by_id: HashMap<&str, &ControlProfile> =
        profiles.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut open: Vec<Recommendation> = latest
        .map(|s| s.control_scores.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            let profile = by_id.get(c.control_name.as_str())?;
            let gap = profile.max_score? - c.score.unwrap_or(0.0);
            (gap > 1e-6).then(|| Recommendation {
                control: c.control_name.clone(),
                title: if profile.title.is_empty() {
                    c.control_name.clone()
                } else {
                    profile.title.clone()
                },
                score_gap: (gap * 100.0).round() / 100.0,
            })
        })
        .collect();
    open.sort_by(|a, b| {
        b.score_gap
            .total_cmp(&a.score_gap)
            .then_with(|| a.control.cmp(&b.control))
    });
    let open_recommendation_count = open.len() as u64;
    open.truncate(MAX_LISTED);
    DefenderSurface {
        active_high_incidents,
        secure_score: latest.and_then(|s| s.current_score).unwrap_or(0.0),
        secure_score_max: latest.and_then(|s| s.max_score).unwrap_or(0.0),
        open_recommendations: open,
        open_recommendation_count,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::Page;

    #[test]
    fn recommendations_are_gaps_worst_first() {
        let incidents: Page<WireIncident> = serde_json::from_str(
            r#"{"value":[{"id":"29","displayName":"Multi-stage incident involving Initial access","severity":"high","status":"active","createdDateTime":"2024-05-01T10:00:00Z","classification":"unknown"},
                         {"id":"30","displayName":"Resolved one","severity":"high","status":"resolved","createdDateTime":"2024-05-02T10:00:00Z"}]}"#,
        )
        .unwrap();
        let scores: Page<SecureScore> = serde_json::from_str(
            r#"{"value":[{"id":"t_2024-05-20","azureTenantId":"t","currentScore":41.5,"maxScore":80.0,"createdDateTime":"2024-05-20T00:00:00Z",
               "controlScores":[{"controlCategory":"Identity","controlName":"MFARegistrationV2","description":"x","score":3.0},
                                {"controlCategory":"Identity","controlName":"AdminMFAV2","score":10.0},
                                {"controlCategory":"Data","controlName":"mdo_safelinksforOfficeApps","score":1.5},
                                {"controlName":"NoProfile","score":0.0}]}]}"#,
        )
        .unwrap();
        let profiles: Page<ControlProfile> = serde_json::from_str(
            r#"{"value":[{"id":"MFARegistrationV2","title":"Ensure all users can complete multifactor authentication","maxScore":9.0},
                         {"id":"AdminMFAV2","title":"Require MFA for administrative roles","maxScore":10.0},
                         {"id":"mdo_safelinksforOfficeApps","title":"Turn on Safe Links for Office Apps","maxScore":"8"}]}"#,
        )
        .unwrap();
        let d = summarise(&incidents.value, &scores.value, &profiles.value);
        assert_eq!(d.active_high_incidents.len(), 1);
        assert_eq!(d.active_high_incidents[0].id, "29");
        assert_eq!((d.secure_score, d.secure_score_max), (41.5, 80.0));
        assert_eq!(d.open_recommendation_count, 2);
        assert_eq!(
            d.open_recommendations[0].control,
            "mdo_safelinksforOfficeApps"
        );
        assert_eq!(d.open_recommendations[0].score_gap, 6.5);
        assert_eq!(d.open_recommendations[1].score_gap, 6.0);
    }

    #[test]
    fn no_score_yet_is_zero() {
        let d = summarise(&[], &[], &[]);
        assert_eq!((d.secure_score_max, d.open_recommendation_count), (0.0, 0));
    }
}
