//! Tenant metadata: organisation name, domains, licences and user count.

use crate::wire::{Organization, SubscribedSku};
use docsync_domain::snapshot::{LicenceLine, TenantMetadata};

/// Builds the metadata section from `/organization`, `/subscribedSkus` and `/users/$count`.
pub(crate) fn summarise(
    organizations: &[Organization],
    skus: &[SubscribedSku],
    user_count: u64,
) -> TenantMetadata {
    let org = organizations.first();
    let verified_domains: Vec<String> = org
        .map(|o| o.verified_domains.iter().map(|d| d.name.clone()).collect())
        .unwrap_or_default();
    let primary_domain = org
        .and_then(|o| o.verified_domains.iter().find(|d| d.is_default))
        .map(|d| d.name.clone())
        .or_else(|| verified_domains.first().cloned())
        .unwrap_or_default();
    let mut licences: Vec<LicenceLine> = skus
        .iter()
        .map(|s| LicenceLine {
            sku_part_number: s.sku_part_number.clone(),
            consumed: s.consumed_units,
            enabled: s.prepaid_units.enabled,
        })
        .collect();
    licences.sort_by(|a, b| a.sku_part_number.cmp(&b.sku_part_number));
    TenantMetadata {
        display_name: org.map(|o| o.display_name.clone()).unwrap_or_default(),
        primary_domain,
        verified_domains,
        licences,
        user_count,
    }
}

/// Parses the plain-text body of `/users/$count` (tolerating a BOM and whitespace).
pub(crate) fn parse_count(body: &str) -> Option<u64> {
    body.trim_start_matches('\u{feff}').trim().parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::Page;

    #[test]
    fn real_shaped_organization_and_skus() {
        let org: Page<Organization> = serde_json::from_str(
            r#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#organization",
                "value":[{"id":"b7f1","displayName":"Contoso Pty Ltd","verifiedDomains":[
                  {"capabilities":"Email, OfficeCommunicationsOnlineService","isDefault":false,"isInitial":true,"name":"contoso.onmicrosoft.com","type":"Managed"},
                  {"capabilities":"Email","isDefault":true,"isInitial":false,"name":"contoso.com.au","type":"Managed"}]}]}"#,
        )
        .unwrap();
        let skus: Page<SubscribedSku> = serde_json::from_str(
            r#"{"value":[{"capabilityStatus":"Enabled","consumedUnits":48,"skuId":"x","skuPartNumber":"SPE_E3",
                 "prepaidUnits":{"enabled":50,"suspended":0,"warning":0}},
                {"consumedUnits":3,"skuPartNumber":"Microsoft_365_Copilot","prepaidUnits":{"enabled":5}}]}"#,
        )
        .unwrap();
        let m = summarise(&org.value, &skus.value, 51);
        assert_eq!(m.display_name, "Contoso Pty Ltd");
        assert_eq!(m.primary_domain, "contoso.com.au");
        assert_eq!(m.verified_domains.len(), 2);
        assert_eq!(m.licences[1].sku_part_number, "SPE_E3");
        assert_eq!((m.licences[1].consumed, m.licences[1].enabled), (48, 50));
        assert_eq!(m.user_count, 51);
    }

    #[test]
    fn count_is_plain_text() {
        assert_eq!(parse_count("2637"), Some(2637));
        assert_eq!(parse_count("\u{feff}12\n"), Some(12));
        assert_eq!(parse_count("{\"n\":1}"), None);
    }
}
