//! Usernames, search filters and account flags: the parts that need no server.

use super::LdapError;

/// Characters that could widen or break a search filter, or end a string early.
const FORBIDDEN: &[char] = &['*', '(', ')', '\\', '\0'];
/// Longest username accepted.
const MAX_USERNAME: usize = 256;

/// Checks a username before it goes anywhere near a filter.
pub(crate) fn check_username(username: &str) -> Result<(), LdapError> {
    if username.trim().is_empty() {
        return Err(LdapError::InvalidUsername("the username is empty".into()));
    }
    if username.chars().count() > MAX_USERNAME {
        return Err(LdapError::InvalidUsername(format!("the username is longer than {MAX_USERNAME} characters")));
    }
    if let Some(c) = username.chars().find(|c| FORBIDDEN.contains(c) || c.is_control()) {
        return Err(LdapError::InvalidUsername(format!("the username contains {c:?}, which is not allowed")));
    }
    Ok(())
}

/// Escapes a value for a filter (RFC 4515), even after [`check_username`]: defence in depth.
pub(crate) fn escape(value: &str) -> String {
    ldap3::ldap_escape(value).into_owned()
}

/// The filter that finds a user: `uid` (OpenLDAP) or `sAMAccountName`/`userPrincipalName`
/// (Active Directory).
pub(crate) fn user_filter(active_directory: bool, attribute: Option<&str>, username: &str) -> String {
    let u = escape(username);
    match (active_directory, attribute) {
        (_, Some(attr)) => format!("({attr}={u})"),
        (true, None) => format!("(|(sAMAccountName={u})(userPrincipalName={u}))"),
        (false, None) => format!("(uid={u})"),
    }
}

/// Groups that list `dn` as a member, without the memberOf overlay.
pub(crate) fn member_filter(dn: &str) -> String {
    let d = escape(dn);
    format!("(|(&(objectClass=groupOfNames)(member={d}))(&(objectClass=groupOfUniqueNames)(uniqueMember={d})))")
}

/// Active Directory's transitive membership ("in chain") filter.
pub(crate) fn in_chain_filter(dn: &str) -> String {
    format!("(member:1.2.840.113556.1.4.1941:={})", escape(dn))
}

/// AD's `userAccountControl` flags that forbid a login.
pub(crate) fn account_blocked(user_account_control: Option<&str>) -> Option<&'static str> {
    let flags: u32 = user_account_control?.trim().parse().ok()?;
    if flags & 0x2 != 0 {
        Some("the account is disabled")
    } else if flags & 0x10 != 0 {
        Some("the account is locked out")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_that_could_widen_a_search_are_refused() {
        for bad in ["*", "alice)(uid=*", "a\\2a", "nul\0", "", "  ", "tab\t"] {
            assert!(matches!(check_username(bad), Err(LdapError::InvalidUsername(_))), "{bad:?}");
        }
        for good in ["alice", "dana.o'neil", "alice@example.com", "DOMAIN-user_1"] {
            assert!(check_username(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn filters_escape_their_values() {
        assert_eq!(user_filter(false, None, "alice"), "(uid=alice)");
        assert_eq!(user_filter(false, None, "a*)(b"), "(uid=a\\2a\\29\\28b)");
        assert_eq!(user_filter(true, None, "bob"), "(|(sAMAccountName=bob)(userPrincipalName=bob))");
        assert_eq!(user_filter(true, Some("cn"), "x"), "(cn=x)");
        assert_eq!(in_chain_filter("cn=a,dc=x"), "(member:1.2.840.113556.1.4.1941:=cn=a,dc=x)");
        assert!(member_filter("cn=(x)").contains("cn=\\28x\\29"));
    }

    #[test]
    fn account_flags() {
        assert_eq!(account_blocked(Some("512")), None);
        assert_eq!(account_blocked(Some("514")), Some("the account is disabled"));
        assert_eq!(account_blocked(Some("528")), Some("the account is locked out"));
        assert_eq!(account_blocked(None), None);
        assert_eq!(account_blocked(Some("junk")), None);
    }
}
