//! Exchange Online: DKIM per domain, anti-phish policies, unified audit ingestion.

use crate::wire::{AdminAuditLogConfig, AntiPhishPolicy as WirePolicy, DkimSigningConfig};
use docsync_domain::snapshot::{AntiPhishPolicy, DkimDomain, ExchangePosture};

/// Builds the Exchange section from the three cmdlets' outputs.
pub(crate) fn summarise(
    dkim: &[DkimSigningConfig],
    anti_phish: &[WirePolicy],
    audit: &[AdminAuditLogConfig],
) -> ExchangePosture {
    let mut dkim: Vec<DkimDomain> = dkim
        .iter()
        .map(|d| DkimDomain {
            domain: d.domain.clone(),
            enabled: d.enabled,
        })
        .collect();
    dkim.sort_by(|a, b| a.domain.cmp(&b.domain));
    ExchangePosture {
        dkim,
        anti_phish_policies: anti_phish
            .iter()
            .map(|p| AntiPhishPolicy {
                name: p.name.clone(),
                enabled: p.enabled,
                impersonation_protection: p.enable_mailbox_intelligence
                    || p.enable_targeted_user_protection
                    || p.enable_organization_domains_protection,
            })
            .collect(),
        unified_audit_enabled: audit
            .first()
            .is_some_and(|a| a.unified_audit_log_ingestion_enabled),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::Page;

    #[test]
    fn invoke_command_values_are_read() {
        let dkim: Page<DkimSigningConfig> = serde_json::from_str(
            r#"{"@odata.context":"x","value":[{"Domain":"contoso.com","Enabled":true,"Status":"Valid"},
               {"Domain":"contoso.onmicrosoft.com","Enabled":false,"Status":"NoDKIMKeys"}]}"#,
        )
        .unwrap();
        let phish: Page<WirePolicy> = serde_json::from_str(
            r#"{"value":[{"Name":"Office365 AntiPhish Default","Enabled":true,"EnableMailboxIntelligence":true,
               "EnableTargetedUserProtection":false,"EnableOrganizationDomainsProtection":false,"IsDefault":true},
               {"Name":"Strict","Enabled":false,"EnableMailboxIntelligence":false,"EnableTargetedUserProtection":false,
               "EnableOrganizationDomainsProtection":false,"IsDefault":false}]}"#,
        )
        .unwrap();
        let audit: Page<AdminAuditLogConfig> = serde_json::from_str(
            r#"{"value":[{"UnifiedAuditLogIngestionEnabled":true,"AdminAuditLogEnabled":true}]}"#,
        )
        .unwrap();
        let e = summarise(&dkim.value, &phish.value, &audit.value);
        assert_eq!(e.dkim.len(), 2);
        assert!(e.dkim[0].enabled && !e.dkim[1].enabled);
        assert!(e.anti_phish_policies[0].impersonation_protection);
        assert!(!e.anti_phish_policies[1].enabled);
        assert!(e.unified_audit_enabled);
        assert!(!summarise(&[], &[], &[]).unified_audit_enabled);
    }
}
