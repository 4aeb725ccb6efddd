//! `LdapAuth` against a real OpenLDAP server (slapd), in OpenLDAP mode and in Active Directory
//! mode (AD attributes served by slapd with a small schema).
//!
//! What slapd cannot emulate: AD's "in chain" matching rule (1.2.840.113556.1.4.1941). slapd
//! refuses it, so these tests exercise the fallback that follows `memberOf` upwards; the
//! filter itself is unit-tested in `mliy-plugins`.

use super::slapd::{self, SERVICE_DN, SERVICE_PASSWORD, Slapd};
use mliy::plugins::ldap::{DirectoryKind, LdapAuth, LdapError};
use mliy::secret::Secret;
use std::time::{Duration, Instant};

fn auth(server: &Slapd, kind: DirectoryKind) -> LdapAuth {
    LdapAuth::builder(&server.url, kind)
        .base_dn(slapd::BASE)
        .bind(SERVICE_DN, Secret::new(SERVICE_PASSWORD))
        .admin_group("CN=Admins, OU=Groups, DC=example, DC=com")
        .timeouts(Duration::from_secs(2), Duration::from_secs(2))
        .build()
        .unwrap()
}

fn group(cn: &str) -> String {
    format!("cn={cn},ou=groups,{}", slapd::BASE)
}

#[tokio::test]
async fn openldap_mode() {
    let Some(server) = Slapd::start(&slapd::directory()) else { return };
    let auth = auth(&server, DirectoryKind::OpenLdap);
    let alice = auth.check("alice", &Secret::new("alice-Pw-1")).await.unwrap();
    assert_eq!(alice.username, "alice");
    assert_eq!((alice.display_name.as_str(), alice.email.as_deref()), ("Alice Liddell", Some("alice@example.com")));
    assert_eq!(alice.groups, [group("data-science")], "direct groups only in OpenLDAP mode");
    assert!(!alice.admin);
    // Admin is a DN comparison: carol is in cn=admins; bob's cn=admins-archive is not it.
    assert!(auth.check("carol", &Secret::new("carol-Pw-3")).await.unwrap().admin);
    let bob = auth.check("bob", &Secret::new("bob-Pw-2")).await.unwrap();
    assert_eq!((bob.groups.clone(), bob.admin), (vec![group("admins-archive")], false));
    // Group configs map the directory's groups by an explicit rule.
    let config = |rule: &str, group: &str| {
        let yaml = format!("group_configs: [{{name: g, group: '{group}', group_match: {rule}}}]");
        mliy::model::Catalog::from_yaml_str(&yaml).unwrap().group_configs.remove(0)
    };
    assert!(config("cn", "data-science").admits(&alice));
    assert!(config("dn", "CN=Data-Science,OU=groups,DC=example,DC=com").admits(&alice));
    assert!(!config("name", "data-science").admits(&alice), "a name rule does not match a DN");
    assert!(!config("cn", "data").admits(&alice), "never by substring");
    // The service connection is reused across logins.
    for _ in 0..3 {
        assert!(auth.check("alice", &Secret::new("alice-Pw-1")).await.is_ok());
    }
}

#[tokio::test]
async fn active_directory_mode_with_nested_groups() {
    let Some(server) = Slapd::start(&slapd::directory()) else { return };
    let auth = auth(&server, DirectoryKind::ActiveDirectory);
    let alice = auth.check("alice", &Secret::new("alice-Pw-1")).await.unwrap();
    assert_eq!(alice.groups, [group("analytics"), group("data-science")], "nested analytics ⊃ data-science");
    let by_upn = auth.check("alice@example.com", &Secret::new("alice-Pw-1")).await.unwrap();
    assert_eq!(by_upn.username, "alice");
    assert!(matches!(auth.check("dave", &Secret::new("dave-Pw-4")).await, Err(LdapError::AccountDisabled(_))));
}

#[tokio::test]
async fn wrong_empty_and_unknown_credentials() {
    let Some(server) = Slapd::start(&slapd::directory()) else { return };
    for kind in [DirectoryKind::OpenLdap, DirectoryKind::ActiveDirectory] {
        let auth = auth(&server, kind);
        for (user, password) in [("alice", "wrong"), ("alice", ""), ("nobody", "alice-Pw-1"), ("ALICE", "")] {
            let e = auth.check(user, &Secret::new(password)).await.unwrap_err();
            assert_eq!(e, LdapError::InvalidCredentials, "{kind:?} {user}/{password:?}");
        }
    }
}

#[tokio::test]
async fn usernames_cannot_widen_the_search() {
    let Some(server) = Slapd::start(&slapd::directory()) else { return };
    for kind in [DirectoryKind::OpenLdap, DirectoryKind::ActiveDirectory] {
        let auth = auth(&server, kind);
        for user in ["*", "alice)(uid=*", "a*", "*)(|(uid=*", "alice\0", "\\2a"] {
            for password in ["alice-Pw-1", "bob-Pw-2", "x"] {
                match auth.check(user, &Secret::new(password)).await {
                    Err(LdapError::InvalidUsername(_) | LdapError::InvalidCredentials) => {}
                    other => panic!("{kind:?} {user:?}: {other:?}"),
                }
            }
        }
    }
}

#[tokio::test]
async fn misconfiguration_is_reported_as_such() {
    let Some(server) = Slapd::start(&slapd::directory()) else { return };
    let wrong_service = LdapAuth::builder(&server.url, DirectoryKind::OpenLdap)
        .base_dn(slapd::BASE)
        .bind(SERVICE_DN, Secret::new("not-the-password"))
        .build()
        .unwrap();
    let e = wrong_service.check("alice", &Secret::new("alice-Pw-1")).await.unwrap_err();
    assert_eq!(e.kind(), "misconfigured", "{e}");
    let wrong_base = LdapAuth::builder(&server.url, DirectoryKind::OpenLdap)
        .base_dn("ou=nowhere,dc=example,dc=com")
        .bind(SERVICE_DN, Secret::new(SERVICE_PASSWORD))
        .build()
        .unwrap();
    assert_eq!(wrong_base.check("alice", &Secret::new("alice-Pw-1")).await.unwrap_err().kind(), "misconfigured");
    let starttls = LdapAuth::builder(&server.url, DirectoryKind::OpenLdap)
        .base_dn(slapd::BASE)
        .bind(SERVICE_DN, Secret::new(SERVICE_PASSWORD))
        .starttls(true)
        .timeouts(Duration::from_secs(2), Duration::from_secs(2))
        .build()
        .unwrap();
    let e = starttls.check("alice", &Secret::new("alice-Pw-1")).await.unwrap_err();
    assert!(matches!(e.kind(), "unreachable" | "misconfigured"), "StartTLS against a server without TLS: {e}");
    for (url, field) in [("http://x", "url"), ("", "url")] {
        let e = LdapAuth::builder(url, DirectoryKind::OpenLdap)
            .base_dn("dc=x")
            .bind("cn=s", Secret::new("p"))
            .build()
            .unwrap_err();
        assert!(e.to_string().starts_with(field), "{e}");
    }
}

#[tokio::test]
async fn an_unreachable_directory_fails_within_the_timeout() {
    // Nothing listens on this port.
    let closed = format!("ldap://127.0.0.1:{}", super::servers::free_port());
    let auth = LdapAuth::builder(&closed, DirectoryKind::OpenLdap)
        .base_dn("dc=x")
        .bind("cn=s", Secret::new("p"))
        .timeouts(Duration::from_secs(1), Duration::from_secs(1))
        .build()
        .unwrap();
    assert_eq!(auth.check("alice", &Secret::new("pw")).await.unwrap_err().kind(), "unreachable");
    // A server that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ldap://{}", silent.local_addr().unwrap());
    let auth = LdapAuth::builder(&url, DirectoryKind::OpenLdap)
        .base_dn("dc=x")
        .bind("cn=s", Secret::new("p"))
        .timeouts(Duration::from_secs(1), Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = auth.check("alice", &Secret::new("pw")).await.unwrap_err();
    assert_eq!(e.kind(), "unreachable", "{e}");
    assert!(started.elapsed() < Duration::from_secs(5), "gave up after {:?}", started.elapsed());
    let e: mliy::Error = e.into();
    assert!(e.is_retryable());
}

#[tokio::test]
async fn no_secret_in_logs_errors_or_debug() {
    let Some(server) = Slapd::start(&slapd::directory()) else { return };
    let logs = mliy_core::testkit::CapturedLogs::start();
    let auth = auth(&server, DirectoryKind::ActiveDirectory);
    let mut shown = format!("{auth:?}");
    for (user, password) in
        [("alice", "alice-Pw-1"), ("alice", "guess-Pw-9"), ("dave", "dave-Pw-4"), ("*", "star-Pw-7")]
    {
        match auth.check(user, &Secret::new(password)).await {
            Ok(p) => shown += &format!("{p:?}"),
            Err(e) => shown += &format!("{e} {e:?} {}", mliy::Error::from(e.clone())),
        }
    }
    let logged = logs.text();
    assert!(logged.contains("LDAP login"), "the capture works: {logged}");
    for secret in [SERVICE_PASSWORD, "alice-Pw-1", "guess-Pw-9", "dave-Pw-4", "star-Pw-7"] {
        assert!(!logged.contains(secret) && !shown.contains(secret), "{secret} leaked");
    }
}

/// `mliy auth check` against the same server, passwords passed through the environment.
#[test]
fn cli_auth_check() {
    let Some(server) = Slapd::start(&slapd::directory()) else { return };
    let run = |url: &str, mode: &str, user: &str, password: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mliy"))
            .args([
                "auth",
                "check",
                "--ldap-url",
                url,
                "--mode",
                mode,
                "--base-dn",
                slapd::BASE,
                "--bind-dn",
                SERVICE_DN,
            ])
            .args(["--bind-password-env", "SVC_PW", "--admin-group", &group("admins"), "--timeout", "2"])
            .args(["--user", user, "--password-env", "USER_PW", "--json"])
            .env("SVC_PW", SERVICE_PASSWORD)
            .env("USER_PW", password)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(!text.contains(password) || password.is_empty(), "the password must not be printed");
        (out.status.code(), serde_json::from_str::<serde_json::Value>(&text).unwrap())
    };
    let (code, json) = run(&server.url, "ad", "alice", "alice-Pw-1");
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["username"], "alice");
    assert_eq!(json["groups"], serde_json::json!([group("analytics"), group("data-science")]));
    assert_eq!((json["admin"].as_bool(), json["email"].as_str()), (Some(false), Some("alice@example.com")));
    assert_eq!(run(&server.url, "openldap", "carol", "carol-Pw-3").1["admin"], true);
    for (user, password, kind) in [
        ("alice", "wrong", "invalid_credentials"),
        ("alice", "", "invalid_credentials"),
        ("alice)(uid=*", "x", "invalid_username"),
        ("dave", "dave-Pw-4", "account_disabled"),
    ] {
        let (code, json) = run(&server.url, "ad", user, password);
        assert_eq!((code, json["error"]["kind"].as_str()), (Some(2), Some(kind)), "{user}: {json}");
    }
    let closed = format!("ldap://127.0.0.1:{}", super::servers::free_port());
    assert_eq!(run(&closed, "openldap", "alice", "x").1["error"]["kind"], "unreachable");
}

#[tokio::test]
async fn openldap_without_the_memberof_overlay() {
    let options = slapd::Options { memberof: false, tls: false };
    let Some(server) = Slapd::start_with(&slapd::directory(), options) else { return };
    let alice = auth(&server, DirectoryKind::OpenLdap).check("alice", &Secret::new("alice-Pw-1")).await.unwrap();
    assert_eq!(alice.groups, [group("data-science")], "found by a member search");
    let nobody_admin = LdapAuth::builder(&server.url, DirectoryKind::OpenLdap)
        .base_dn(slapd::BASE)
        .bind(SERVICE_DN, Secret::new(SERVICE_PASSWORD))
        .admin_group("")
        .build()
        .unwrap();
    assert!(!nobody_admin.check("carol", &Secret::new("carol-Pw-3")).await.unwrap().admin, "no admin group, no admins");
}

#[tokio::test]
async fn tls_with_certificate_validation() {
    let options = slapd::Options { memberof: true, tls: true };
    let Some(server) = Slapd::start_with(&slapd::directory(), options) else { return };
    let (ldaps, ca) = (server.ldaps_url.clone().unwrap(), server.ca_file.clone().unwrap());
    let build = |url: &str, starttls: bool, ca: Option<&std::path::Path>, verify: bool| {
        let mut b = LdapAuth::builder(url, DirectoryKind::OpenLdap)
            .base_dn(slapd::BASE)
            .bind(SERVICE_DN, Secret::new(SERVICE_PASSWORD))
            .starttls(starttls)
            .timeouts(Duration::from_secs(3), Duration::from_secs(3));
        if let Some(ca) = ca {
            b = b.ca_file(ca);
        }
        if !verify {
            b = b.danger_disable_tls_verification();
        }
        b.build().unwrap()
    };
    let pw = Secret::new("alice-Pw-1");
    assert!(build(&ldaps, false, Some(&ca), true).check("alice", &pw).await.is_ok(), "ldaps:// with the CA");
    assert!(build(&server.url, true, Some(&ca), true).check("alice", &pw).await.is_ok(), "StartTLS with the CA");
    // Validation is on by default: the test CA is not among the system's.
    let e = build(&ldaps, false, None, true).check("alice", &pw).await.unwrap_err();
    assert_eq!(e.kind(), "misconfigured", "{e}");
    assert!(build(&ldaps, false, None, false).check("alice", &pw).await.is_ok(), "only when explicitly disabled");
    let missing = LdapAuth::builder(&ldaps, DirectoryKind::OpenLdap)
        .base_dn(slapd::BASE)
        .bind(SERVICE_DN, Secret::new(SERVICE_PASSWORD))
        .ca_file("/no/such/ca.pem")
        .build()
        .unwrap_err();
    assert!(missing.to_string().starts_with("ca_file"), "{missing}");
}

#[tokio::test]
async fn ldap_passes_the_auth_suite_in_both_modes() {
    use mliy::auth::Credentials;
    use mliy::model::Principal;
    let Some(server) = Slapd::start(&slapd::directory()) else { return };
    let password = |user: &str, pw: &str| Credentials::Password { username: user.into(), password: Secret::new(pw) };
    let openldap = auth(&server, DirectoryKind::OpenLdap);
    let alice = Principal::new("alice", [group("data-science")]);
    mliy::testkit::auth::run_all(&openldap, &password("alice", "alice-Pw-1"), &alice).await;
    let ad = auth(&server, DirectoryKind::ActiveDirectory);
    let alice = Principal::new("alice", [group("analytics"), group("data-science")]);
    mliy::testkit::auth::run_all(&ad, &password("alice", "alice-Pw-1"), &alice).await;
    let carol = ad.check("carol", &Secret::new("carol-Pw-3")).await.unwrap();
    assert!(carol.admin);
    mliy::testkit::auth::run_all(&ad, &password("carol", "carol-Pw-3"), &carol).await;
}
