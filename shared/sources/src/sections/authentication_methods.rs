//! The authentication methods policy (`GET /policies/authenticationMethodsPolicy`): each method
//! the policy configures and whether it is on, in the policy's order. A method without an id is
//! dropped; a state other than `enabled` or `disabled` is kept as Graph gave it.

use crate::wire::AuthenticationMethodsPolicy;
use docsync_domain::snapshot::{AuthenticationMethod, AuthenticationMethods};

pub(crate) fn summarise(policy: &AuthenticationMethodsPolicy) -> AuthenticationMethods {
    AuthenticationMethods {
        methods: policy
            .authentication_method_configurations
            .iter()
            .filter(|m| !m.id.trim().is_empty())
            .map(|m| AuthenticationMethod {
                id: m.id.trim().to_owned(),
                state: if m.state.is_empty() {
                    "unknown".to_owned()
                } else {
                    m.state.clone()
                },
            })
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_their_states_come_from_the_real_shape() {
        let body = r##"{
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#authenticationMethodsPolicy",
            "id": "authenticationMethodsPolicy",
            "displayName": "Authentication Methods Policy",
            "policyVersion": "1.5",
            "authenticationMethodConfigurations": [
                {"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
                 "id": "Fido2", "state": "disabled", "excludeTargets": []},
                {"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration",
                 "id": "MicrosoftAuthenticator", "state": "enabled", "excludeTargets": []},
                {"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration",
                 "id": "Sms", "state": "enabled"},
                {"id": "", "state": "enabled"}
            ]
        }"##;
        let policy: AuthenticationMethodsPolicy = serde_json::from_str(body).unwrap();
        let summary = summarise(&policy);
        let pairs: Vec<(&str, &str)> = summary
            .methods
            .iter()
            .map(|m| (m.id.as_str(), m.state.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("Fido2", "disabled"),
                ("MicrosoftAuthenticator", "enabled"),
                ("Sms", "enabled")
            ]
        );
    }
}
