//! The MSP's multi-tenant Microsoft (Entra) app, which docsync signs in to every customer
//! tenant with: what its client id and client secret must look like when they are configured
//! (`PUT /connections/microsoft`). The one place these rules live.

use crate::secret::{parse_guid, KeyRule, KeyShape};

/// The app's client secret. Entra shows a secret's Value once, when it is created, next to
/// its Secret ID (a GUID, pasted by mistake often enough to be refused by name). Current
/// secrets are 40 characters (three, a digit, `Q~`, then 34 of letters, digits and `. _ ~ -`);
/// older ones are 32 to 44 characters. Fewer than 32 is never a real one.
pub const CLIENT_SECRET: KeyRule = KeyRule {
    what: "an Entra client secret",
    min_len: 32,
    shape: KeyShape::NotAGuid {
        id_name: "Secret ID",
    },
    hint: "paste the client secret's Value (not its Secret ID), shown once when the secret is \
           created under Entra admin centre > App registrations > (the docsync app) > \
           Certificates & secrets; a current one is 40 characters such as abc8Q~ followed by \
           34 letters, digits and . _ ~ -, older ones 32 to 44",
};

/// Where the app (client) id is found.
const CLIENT_ID_HINT: &str = "use the Application (client) ID, a GUID such as \
                              5e3b8c1a-0d2f-4e6a-9b7c-1a2b3c4d5e6f, from Entra admin centre > \
                              App registrations > (the docsync app) > Overview";

/// Parses the app (client) id: a GUID in any case, with or without braces, returned
/// lowercase and hyphenated. The error names no field (the caller's does) and ends with where
/// to find the id.
pub fn parse_client_id(raw: &str) -> Result<String, String> {
    parse_guid(raw).ok_or_else(|| format!("must be the app's client id: {CLIENT_ID_HINT}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ApiKey;

    #[test]
    fn a_one_character_secret_is_refused_naming_the_field_and_what_a_real_one_is() {
        let err = ApiKey::parse_with("clientSecret", "0", &CLIENT_SECRET).unwrap_err();
        assert!(
            err.starts_with(
                "clientSecret is shorter than 32 characters, too short for an Entra client secret"
            ),
            "{err}"
        );
        assert!(
            err.contains("40 characters") && err.contains("Certificates & secrets"),
            "{err}"
        );
    }

    #[test]
    fn the_secret_id_is_refused_and_real_secrets_are_accepted() {
        let err = ApiKey::parse_with(
            "clientSecret",
            "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
            &CLIENT_SECRET,
        )
        .unwrap_err();
        assert!(err.contains("GUID, which is the Secret ID"), "{err}");
        // A current secret (40 characters) and a legacy one (32).
        for ok in [
            "abc8Q~defghijklmnopqrstuvwxyz-_.~0123456",
            "sandbox-client-secret-0123456789",
        ] {
            let key = ApiKey::parse_with("clientSecret", ok, &CLIENT_SECRET).unwrap();
            assert_eq!(key.expose(), ok);
        }
    }

    #[test]
    fn the_client_id_is_a_guid() {
        assert_eq!(
            parse_client_id(" 5E3B8C1A-0D2F-4E6A-9B7C-1A2B3C4D5E6F "),
            Ok("5e3b8c1a-0d2f-4e6a-9b7c-1a2b3c4d5e6f".to_owned())
        );
        for bad in ["sandbox-client-id", "x", ""] {
            let err = parse_client_id(bad).unwrap_err();
            assert!(err.contains("Application (client) ID, a GUID"), "{err}");
        }
    }
}
