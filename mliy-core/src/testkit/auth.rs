//! The [`AuthProvider`] conformance suite.
//!
//! The caller gives one set of credentials the provider must accept and the principal they
//! stand for; the suite derives the credentials it must refuse from their shape (a wrong,
//! empty or wildcard password, an unknown user; a missing or empty user header).

use crate::auth::{AuthProvider, Credentials};
use crate::model::{Principal, normalize_dn};
use crate::secret::Secret;
use std::collections::HashMap;

/// Runs every check: `good` authenticates as `expected` (username, groups compared as DNs,
/// admin flag), and nothing else gets in.
pub async fn run_all(auth: &dyn AuthProvider, good: &Credentials, expected: &Principal) {
    accepts_what_it_verified(auth, good, expected).await;
    refuses_the_rest(auth, good).await;
    refuses_the_other_kind_of_credentials(auth, good).await;
    concurrent_logins_agree(auth, good, expected).await;
    secrets_stay_out_of_debug_and_errors(auth, good).await;
}

pub async fn accepts_what_it_verified(auth: &dyn AuthProvider, good: &Credentials, expected: &Principal) {
    let got = auth.authenticate(good).await.unwrap();
    assert_eq!(got.username, expected.username);
    let dns = |p: &Principal| {
        let mut g: Vec<String> = p.groups.iter().map(|g| normalize_dn(g)).collect();
        g.sort();
        g
    };
    assert_eq!(dns(&got), dns(expected), "groups of {}", got.username);
    assert_eq!(got.admin, expected.admin, "admin flag of {}", got.username);
}

/// What must not get in, derived from the good credentials.
fn impostors(good: &Credentials) -> Vec<Credentials> {
    match good {
        Credentials::Password { username, password } => {
            let with =
                |user: &str, pw: &str| Credentials::Password { username: user.into(), password: Secret::new(pw) };
            vec![
                with(username, &format!("{}x", password.expose())),
                with(username, ""),
                with(username, "*"),
                with(&format!("{username}-nobody"), password.expose()),
                with("*", password.expose()),
                with(&format!("{username}*"), password.expose()),
                with("", password.expose()),
            ]
        }
        Credentials::Headers(headers) => {
            let mut empty = headers.clone();
            empty.values_mut().for_each(|v| v.clear());
            vec![Credentials::Headers(HashMap::new()), Credentials::Headers(empty)]
        }
        Credentials::Proxied { peer, headers } => {
            let mut empty = headers.clone();
            empty.values_mut().for_each(|v| v.clear());
            let peer = *peer;
            vec![
                Credentials::Proxied { peer, headers: HashMap::new() },
                Credentials::Proxied { peer, headers: empty },
                Credentials::Headers(headers.clone()),
            ]
        }
    }
}

pub async fn refuses_the_rest(auth: &dyn AuthProvider, good: &Credentials) {
    for bad in impostors(good) {
        let e = auth.authenticate(&bad).await.expect_err(&format!("must refuse {bad:?}"));
        assert_eq!(e.kind(), "unauthenticated", "{bad:?}: {e}");
    }
}

pub async fn refuses_the_other_kind_of_credentials(auth: &dyn AuthProvider, good: &Credentials) {
    let other = match good {
        Credentials::Password { username, .. } => {
            Credentials::Headers(HashMap::from([("REMOTE_USER".to_string(), username.clone())]))
        }
        Credentials::Headers(_) | Credentials::Proxied { .. } => {
            Credentials::Password { username: "alice".into(), password: Secret::new("pw") }
        }
    };
    let e = auth.authenticate(&other).await.expect_err("the other kind of credentials");
    assert_eq!(e.kind(), "unauthenticated", "{e}");
}

pub async fn concurrent_logins_agree(auth: &dyn AuthProvider, good: &Credentials, expected: &Principal) {
    let login = || auth.authenticate(good);
    let (a, b, c, d) = tokio::join!(login(), login(), login(), login());
    for got in [a, b, c, d] {
        assert_eq!(got.unwrap().username, expected.username);
    }
}

pub async fn secrets_stay_out_of_debug_and_errors(auth: &dyn AuthProvider, good: &Credentials) {
    let Credentials::Password { username, password } = good else { return };
    assert!(!format!("{auth:?}").contains(password.expose()), "Debug shows no password");
    let wrong = Credentials::Password { username: username.clone(), password: Secret::new("Wr0ng-sekret-7") };
    let e = auth.authenticate(&wrong).await.unwrap_err();
    assert!(!e.to_string().contains("Wr0ng-sekret-7") && !format!("{e:?}").contains("Wr0ng-sekret-7"), "{e:?}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{HeaderAuth, StaticAuth};

    #[tokio::test]
    async fn static_and_header_auth_conform() {
        let alice = Principal::new("alice", ["cn=ds,ou=groups,dc=example,dc=com"]);
        let auth = StaticAuth::new().with_user(alice.clone(), "alice-Pw-1");
        let good = Credentials::Password { username: "alice".into(), password: Secret::new("alice-Pw-1") };
        run_all(&auth, &good, &alice).await;

        let auth = HeaderAuth::trusting_proxy("REMOTE_USER")
            .with_groups_header("X-Groups")
            .with_admin_group("CN=Admins,DC=example,DC=com");
        let headers = HashMap::from([
            ("REMOTE_USER".to_string(), "carol".to_string()),
            ("X-Groups".to_string(), "cn=admins,dc=example,dc=com; cn=ds,dc=example,dc=com".to_string()),
        ]);
        let carol = Principal {
            admin: true,
            ..Principal::new("carol", ["cn=admins,dc=example,dc=com", "cn=ds,dc=example,dc=com"])
        };
        run_all(&auth, &Credentials::Headers(headers.clone()), &carol).await;
        let proxy = crate::auth::IpNet::parse("10.0.0.0/8").unwrap();
        let auth = auth.with_trusted_proxies([proxy]);
        run_all(&auth, &Credentials::Proxied { peer: "10.9.8.7".parse().unwrap(), headers }, &carol).await;
    }
}
