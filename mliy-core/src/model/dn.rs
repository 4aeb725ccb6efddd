//! Distinguished names, compared as LDAP does (attribute types and, for directory groups,
//! values without regard to case or spacing around separators).

/// Splits a DN into its RDNs at commas that are not escaped with `\`.
fn rdns(dn: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                parts.push(&dn[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&dn[start..]);
    parts
}

/// Normalises a DN for comparison: `CN = Admins , DC=Example` → `cn=admins,dc=example`.
pub fn normalize_dn(dn: &str) -> String {
    rdns(dn.trim())
        .iter()
        .map(|rdn| match rdn.split_once('=') {
            Some((ty, value)) => format!("{}={}", ty.trim().to_lowercase(), value.trim().to_lowercase()),
            None => rdn.trim().to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The value of the first RDN when it is a `CN`: `cn=admins,ou=groups` → `admins`.
pub fn dn_cn(dn: &str) -> Option<String> {
    let first = *rdns(dn.trim()).first()?;
    let (ty, value) = first.split_once('=')?;
    ty.trim().eq_ignore_ascii_case("cn").then(|| value.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_and_cn() {
        assert_eq!(normalize_dn(" CN = Admins , DC=Example,dc=COM"), "cn=admins,dc=example,dc=com");
        assert_ne!(normalize_dn("cn=admins-archive,dc=x"), normalize_dn("cn=admins,dc=x"));
        assert_eq!(dn_cn("cn=Data Science,ou=groups,dc=x").as_deref(), Some("Data Science"));
        assert_eq!(dn_cn("cn=a\\,b,dc=x").as_deref(), Some("a\\,b"));
        assert_eq!(dn_cn("ou=groups"), None);
        assert_eq!(dn_cn("manager"), None);
    }
}
