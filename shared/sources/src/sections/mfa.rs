//! MFA adoption from the authentication-methods registration report: member users make the
//! adoption figure; guests (`userType` guest) are counted apart and never raise or lower it.

use crate::wire::RegistrationDetail;
use docsync_domain::snapshot::MfaAdoption;

/// How many admin UPNs without MFA are listed.
const MAX_LISTED_ADMINS: usize = 20;

/// `part / whole` in percent with one decimal (0 when `whole` is 0).
pub(crate) fn percent_one_decimal(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 1000.0 / whole as f64).round() / 10.0
}

/// Builds the MFA section from every row of the registration report.
pub(crate) fn summarise(rows: &[RegistrationDetail]) -> MfaAdoption {
    let (guests, members): (Vec<&RegistrationDetail>, Vec<&RegistrationDetail>) =
        rows.iter().partition(|r| is_guest(r));
    let users = members.len() as u64;
    let registered = members.iter().filter(|r| r.is_mfa_registered).count() as u64;
    let admins: Vec<&RegistrationDetail> = rows.iter().filter(|r| r.is_admin).collect();
    let admins_registered = admins.iter().filter(|r| r.is_mfa_registered).count() as u64;
    let mut admins_without_mfa: Vec<String> = admins
        .iter()
        .filter(|r| !r.is_mfa_registered)
        .map(|r| r.user_principal_name.clone())
        .collect();
    admins_without_mfa.sort();
    admins_without_mfa.truncate(MAX_LISTED_ADMINS);
    MfaAdoption {
        users,
        registered,
        percent: percent_one_decimal(registered, users),
        admins: admins.len() as u64,
        admins_registered,
        admins_without_mfa,
        guests: guests.len() as u64,
        guests_registered: guests.iter().filter(|r| r.is_mfa_registered).count() as u64,
    }
}

/// A guest (B2B) account: `userType` guest, whatever its case.
fn is_guest(row: &RegistrationDetail) -> bool {
    row.user_type.eq_ignore_ascii_case("guest")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::Page;

    #[test]
    fn percent_rounds_to_one_decimal() {
        assert_eq!(percent_one_decimal(0, 0), 0.0);
        assert_eq!(percent_one_decimal(1, 3), 33.3);
        assert_eq!(percent_one_decimal(2, 3), 66.7);
        assert_eq!(percent_one_decimal(2187, 2637), 82.9);
        assert_eq!(percent_one_decimal(5, 5), 100.0);
        assert_eq!(percent_one_decimal(1, 2000), 0.1);
        assert_eq!(percent_one_decimal(1, 20001), 0.0);
    }

    #[test]
    fn report_rows_are_counted_and_admins_listed() {
        let page: Page<RegistrationDetail> = serde_json::from_str(
            r#"{"value":[
              {"id":"1","userPrincipalName":"ann@contoso.com","userDisplayName":"Ann","isAdmin":true,"isMfaRegistered":true,"isMfaCapable":true,"isSsprRegistered":false,"methodsRegistered":["microsoftAuthenticatorPush"]},
              {"id":"2","userPrincipalName":"zed@contoso.com","isAdmin":true,"isMfaRegistered":false,"isMfaCapable":false,"methodsRegistered":[]},
              {"id":"3","userPrincipalName":"bob@contoso.com","isAdmin":true,"isMfaRegistered":false,"isMfaCapable":false},
              {"id":"4","userPrincipalName":"cat@contoso.com","isAdmin":false,"isMfaRegistered":true,"isMfaCapable":true,"userType":"member"},
              {"id":"5","userPrincipalName":"vendor_x.com#EXT#@contoso.onmicrosoft.com","isAdmin":false,"isMfaRegistered":false,"userType":"guest"},
              {"id":"6","userPrincipalName":"partner_y.com#EXT#@contoso.onmicrosoft.com","isAdmin":false,"isMfaRegistered":true,"userType":"Guest"}]}"#,
        )
        .unwrap();
        let m = summarise(&page.value);
        assert_eq!((m.users, m.registered, m.percent), (4, 2, 50.0));
        assert_eq!((m.guests, m.guests_registered), (2, 1));
        assert_eq!((m.admins, m.admins_registered), (3, 1));
        assert_eq!(
            m.admins_without_mfa,
            vec!["bob@contoso.com", "zed@contoso.com"]
        );
    }

    #[test]
    fn at_most_twenty_admins_are_listed() {
        let rows: Vec<RegistrationDetail> = (0..30)
            .map(|i| RegistrationDetail {
                user_principal_name: format!("admin{i:02}@x.com"),
                is_admin: true,
                is_mfa_registered: false,
                user_type: "member".to_owned(),
            })
            .collect();
        assert_eq!(summarise(&rows).admins_without_mfa.len(), 20);
    }
}
