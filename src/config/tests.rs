use super::*;
use mliy_core::error::Error;
use std::time::Duration;

fn parse(text: &str) -> Result<DeploymentConfig> {
    DeploymentConfig::from_yaml_str(text, Path::new("/etc/mliy"))
}

/// The error's text, which must name `field`.
fn refused(text: &str, field: &str) -> String {
    let e = parse(text).expect_err(text);
    let shown = e.to_string();
    assert!(shown.contains(field), "{text:?}: the error {shown:?} names {field:?}");
    shown
}

const FULL: &str = r#"
catalog: catalog.yaml
cloud: {aws: {region: eu-west-1, endpoint_url: "http://127.0.0.1:5000", profile: analytics}}
store: {postgres: {url: "postgres://mliy@db.internal:5432/mliy", password: {env: PGPASSWORD}, tls: {mode: verify-full, ca_file: rds-ca.pem}}}
dns: {route53: {domain: analytics.example.com, prefix: nb-, ttl: 60}}
auth:
  ldap:
    url: ldaps://ldap.example.com
    mode: ad
    base_dn: dc=example,dc=com
    bind_dn: cn=mliy,dc=example,dc=com
    bind_password: {command: "vault read -field=password secret/ldap"}
    user_attribute: sAMAccountName
    admin_group: cn=admins,dc=example,dc=com
    ca_file: ca.pem
    connect_timeout: 3s
    operation_timeout: 20s
engine:
  replica_id: portal-1
  stack_timeout: 3h
  provision_timeout: 30m
  bootstrap_timeout: 1h
  action_timeout: 30m
  terminate_timeout: 1h
  work_timeout: 2h
  stack_poll: 15s
  instance_poll: 10s
  cluster_poll: 30s
  lease_ttl: 2m
  keep_dns_when_stopped: true
  progress_key: {file: progress.key}
  progress_url: https://portal.example.com/progress
  manager_group: cn=managers,dc=example,dc=com
refresh: {interval: 10m, absent_passes: 3}
"#;

#[test]
fn every_section_is_read() {
    let c = parse(FULL).unwrap();
    assert_eq!(c.path(c.catalog.as_deref().unwrap()), Path::new("/etc/mliy/catalog.yaml"));
    let CloudConfig::Aws(aws) = &c.cloud else { panic!("aws") };
    assert_eq!(
        (aws.region.as_deref(), aws.endpoint_url.as_deref(), aws.profile.as_deref()),
        (Some("eu-west-1"), Some("http://127.0.0.1:5000"), Some("analytics"))
    );
    let StoreConfig::Postgres(pg) = &c.store else { panic!("postgres") };
    assert_eq!(pg.tls.as_ref().map(|t| t.mode.as_str()), Some("verify-full"));
    assert!(matches!(&pg.password, Some(SecretSource::Env(n)) if n == "PGPASSWORD"));
    let DnsConfig::Route53(r53) = &c.dns else { panic!("route53") };
    assert_eq!((r53.prefix.as_deref(), r53.ttl), (Some("nb-"), Some(60)));
    let Some(AuthConfig::Ldap(ldap)) = &c.auth else { panic!("ldap") };
    assert!(
        matches!(&ldap.bind_password, SecretSource::Command(c) if c.0 == ["vault", "read", "-field=password", "secret/ldap"])
    );
    assert_eq!((ldap.connect_timeout, ldap.tls_verify), (Some(Duration::from_secs(3)), true));
    assert_eq!(c.engine.stack_timeout, Some(Duration::from_secs(3 * 3600)));
    assert_eq!(c.engine.keep_dns_when_stopped, Some(true));
    assert_eq!((c.refresh.interval, c.refresh.absent_passes), (Duration::from_secs(600), 3));
    let fields: Vec<String> = c.secrets().into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["store.postgres.password", "auth.ldap.bind_password", "engine.progress_key"]);
}

#[test]
fn the_short_forms_and_the_other_backends_are_read() {
    let c = parse("cloud: sim\nstore: memory\n").unwrap();
    assert!(matches!(
        (&c.cloud, &c.store, &c.dns, &c.auth),
        (CloudConfig::Sim, StoreConfig::Memory, DnsConfig::None, None)
    ));
    assert_eq!(c.refresh.interval, Duration::from_secs(300));
    let c = parse(
        "cloud: sim\nsim: {speed: 120, seed: 7, faults: 0.1}\nstore: {sqlite: state.sqlite}\n\
         dns: {rest: {url: https://dns.example.com/api, domain: example.com, data: {view: internal}, \
         api_key: {header: X-Api-Key, value: {file: dns.key}}, payload: form, timeout: 5s}}\n\
         auth: {static: {users: [{username: alice, password: {literal: pw}, groups: [ds], admin: true}]}}\n",
    )
    .unwrap();
    assert!(matches!(&c.store, StoreConfig::Sqlite(p) if p == Path::new("state.sqlite")));
    assert_eq!(c.sim.as_ref().map(|s| (s.speed, s.seed)), Some((120, 7)));
    assert!(
        matches!(&c.dns, DnsConfig::Rest(r) if r.data["view"] == "internal" && r.timeout == Some(Duration::from_secs(5)))
    );
    let c = parse(
        "cloud: sim\nstore: memory\nauth: {header: {user: REMOTE_USER, groups: X-Groups, trusted_proxies: [10.0.0.0/8, '::1']}}\n",
    )
    .unwrap();
    assert!(matches!(&c.auth, Some(AuthConfig::Header(h)) if h.trusted_proxies.len() == 2));
}

#[test]
fn unknown_fields_and_bad_values_name_their_field() {
    refused("cloud: sim\nstore: memory\nstroe: memory\n", "stroe");
    refused("cloud: {aws: {regoin: x}}\nstore: memory\n", "cloud.aws: unknown field `regoin`");
    refused("cloud: gcp\nstore: memory\n", "cloud");
    refused("cloud: aws\nstore: memory\n", "`aws` needs its settings");
    refused("cloud: {aws: {}, sim: {}}\nstore: memory\n", "choose one");
    refused("cloud: sim\nstore: {sqlite: a, memory: b}\n", "store");
    refused("cloud: sim\nstore: {mysql: x}\n", "unknown variant `mysql`");
    refused("cloud: sim\n", "store");
    refused("cloud: sim\nstore: memory\nsim: {speed: 0}\n", "sim.speed");
    refused("cloud: sim\nstore: memory\nsim: {failing_steps: 2}\n", "sim.failing_steps");
    refused("cloud: {aws: {}}\nstore: memory\nsim: {speed: 2}\n", "sim");
    refused("cloud: sim\nstore: {postgres: {url: 'postgres://u:hunter2@db/x'}}\n", "store.postgres.url");
    let shown = refused("cloud: sim\nstore: {postgres: {url: 'postgres://u:hunter2@db/x'}}\n", "password");
    assert!(!shown.contains("hunter2"), "{shown}");
    refused("cloud: sim\nstore: {postgres: {url: 'mysql://db/x'}}\n", "store.postgres.url");
    refused(
        "cloud: sim\nstore: {postgres: {url: 'postgres://db/x', tls: {mode: sometimes}}}\n",
        "store.postgres.tls.mode",
    );
    refused(
        "cloud: sim\nstore: {postgres: {url: 'postgres://db/x', tls: {mode: verify-ca}}}\n",
        "store.postgres.tls.ca_file",
    );
    refused("cloud: sim\nstore: memory\ndns: {route53: {domain: example.com}}\n", "dns.route53");
    refused("cloud: {aws: {}}\nstore: memory\ndns: {route53: {domain: 'not a domain'}}\n", "dns.route53.domain");
    refused("cloud: {aws: {}}\nstore: memory\ndns: {route53: {domain: example.com, ttl: 0}}\n", "dns.route53.ttl");
    refused("cloud: sim\nstore: memory\ndns: {rest: {url: 'http://dns/api', domain: example.com}}\n", "dns.rest.url");
    refused(
        "cloud: sim\nstore: memory\ndns: {rest: {url: 'https://dns/api', domain: example.com, payload: xml}}\n",
        "dns.rest.payload",
    );
    refused(
        "cloud: sim\nstore: memory\nauth: {header: {user: REMOTE_USER, trusted_proxies: []}}\n",
        "auth.header.trusted_proxies",
    );
    refused("cloud: sim\nstore: memory\nauth: {header: {user: REMOTE_USER}}\n", "trusted_proxies");
    refused(
        "cloud: sim\nstore: memory\nauth: {header: {user: U, trusted_proxies: [10.0.0.0/99]}}\n",
        "auth.header.trusted_proxies[0]",
    );
    refused("cloud: sim\nstore: memory\nauth: {static: {users: []}}\n", "auth.static.users");
    let ldap = "auth: {ldap: {url: ldap://x, mode: novell, base_dn: b, bind_dn: d, bind_password: {env: P}}}";
    refused(&format!("cloud: sim\nstore: memory\n{ldap}\n"), "auth.ldap.mode");
    refused("cloud: sim\nstore: memory\nengine: {stack_timeout: soon}\n", "engine.stack_timeout");
    refused("cloud: sim\nstore: memory\nengine: {lease_ttl: 0s}\n", "engine.lease_ttl");
    refused("cloud: sim\nstore: memory\nengine: {progress_url: 'ftp://x'}\n", "engine.progress_url");
    refused("cloud: sim\nstore: memory\nengine: {activity_url: 'ftp://x'}\n", "engine.activity_url");
    refused("cloud: sim\nstore: memory\nengine: {replica: x}\n", "replica");
    refused("cloud: sim\nstore: memory\nrefresh: {absent_passes: 0}\n", "refresh.absent_passes");
    refused("cloud: sim\nstore: memory\nrefresh: {interval: -5}\n", "refresh.interval");
    refused("cloud: sim\nstore: memory\ncloud: sim\n", "cloud");
}

#[test]
fn secrets_are_sources_not_values() {
    let text = "cloud: sim\nstore: memory\nauth: {static: {users: [{username: a, password: hunter2}]}}\n";
    let shown = refused(text, "auth");
    assert!(shown.contains("{env: NAME}"), "{shown}");
    let c =
        parse("cloud: sim\nstore: memory\nauth: {static: {users: [{username: a, password: {literal: hunter2}}]}}\n")
            .unwrap();
    let json = serde_json::to_string(&c).unwrap();
    assert!(!json.contains("hunter2") && json.contains("****"), "{json}");
    assert!(!format!("{c:?}").contains("hunter2"));
    refused("cloud: sim\nstore: memory\nengine: {progress_key: {vault: x}}\n", "engine.progress_key");
    refused("cloud: sim\nstore: memory\nengine: {progress_key: {command: ''}}\n", "engine.progress_key");
}

#[test]
fn secret_sources_resolve_or_say_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, "s3cret-from-file\n").unwrap();
    let file = SecretSource::File(path.clone());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = file.resolve("engine.progress_key", dir.path()).unwrap_err().to_string();
        assert!(e.contains("engine.progress_key") && e.contains("644") && !e.contains("s3cret"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert_eq!(file.resolve("f", dir.path()).unwrap().expose(), "s3cret-from-file");
    let missing = SecretSource::File("nope".into()).resolve("dns.rest.api_key.value", dir.path()).unwrap_err();
    assert!(missing.to_string().contains("dns.rest.api_key.value"), "{missing}");

    let cmd = SecretSource::Command(CommandLine(vec!["printf".into(), "from-a-command\\n".into()]));
    assert_eq!(cmd.resolve("f", dir.path()).unwrap().expose(), "from-a-command");
    let failing = SecretSource::Command(CommandLine(vec!["false".into()]));
    assert!(failing.resolve("auth.ldap.bind_password", dir.path()).unwrap_err().to_string().contains("exited"));
    let absent = SecretSource::Command(CommandLine(vec!["no-such-program-mliy".into()]));
    assert!(absent.resolve("f", dir.path()).unwrap_err().to_string().contains("cannot run"));
    // No shell: a `;` is an argument, not a second command.
    let no_shell = SecretSource::Command(CommandLine(vec!["echo".into(), "a;".into(), "touch".into(), "x".into()]));
    assert_eq!(no_shell.resolve("f", dir.path()).unwrap().expose(), "a; touch x");
    assert!(!dir.path().join("x").exists());

    let unset = SecretSource::Env("MLIY_TEST_SURELY_UNSET".into()).resolve("store.postgres.password", dir.path());
    assert!(unset.unwrap_err().to_string().contains("store.postgres.password"));
}

#[test]
fn the_command_line_store_spec_is_the_same_grammar() {
    assert!(matches!(StoreConfig::from_spec("--store", "memory").unwrap(), StoreConfig::Memory));
    assert!(
        matches!(StoreConfig::from_spec("--store", "sqlite:/tmp/a b.db").unwrap(), StoreConfig::Sqlite(p) if p == Path::new("/tmp/a b.db"))
    );
    let pg = StoreConfig::from_spec("--store", "postgres://u@h/db").unwrap();
    assert!(matches!(pg, StoreConfig::Postgres(p) if p.url == "postgres://u@h/db"));
    for bad in ["sqlite:", "mysql://x", "", "postgres:"] {
        let e = StoreConfig::from_spec("--store", bad).unwrap_err();
        assert!(matches!(&e, Error::Validation(v) if v.field == "--store"), "{bad}: {e}");
    }
    let e = StoreConfig::from_spec("--store", "postgres://u:hunter2@h/db").unwrap_err().to_string();
    assert!(e.contains("--store") && !e.contains("hunter2"), "{e}");
}

#[test]
fn a_missing_config_is_named() {
    let e = DeploymentConfig::from_path(Path::new("/surely/not/here/mliy.yaml")).unwrap_err();
    assert!(e.to_string().contains("mliy.yaml"), "{e}");
}

#[test]
fn the_pricing_section_is_read_and_checked() {
    let base = "cloud: sim\nstore: memory\n";
    let c = parse(&format!("{base}pricing: {{file: instances.json, ebs_gb_month: 0.1, discount: '0.15'}}\n")).unwrap();
    let p = c.pricing.unwrap();
    assert_eq!((p.ebs_gb_month.to_string(), p.discount.to_string(), p.region), ("0.1".into(), "0.15".into(), None));
    let c = parse(&format!("{base}pricing: {{file: instances.json}}\n")).unwrap();
    assert_eq!(c.pricing.unwrap().ebs_gb_month.to_string(), "0.08", "gp3 by default");
    for (text, field) in [
        ("pricing: {file: p.json, discount: 1.5}", "pricing.discount"),
        ("pricing: {file: p.json, ebs_gb_month: -1}", "pricing.ebs_gb_month"),
        ("pricing: {file: p.json, region: ''}", "pricing.region"),
        ("pricing: {file: p.json, spot: true}", "spot"),
        ("pricing: {region: us-east-1}", "file"),
    ] {
        refused(&format!("{base}{text}\n"), field);
    }
}

/// The registry streams the file once, keeping the region, and refuses a region it does not
/// price.
#[tokio::test]
async fn the_registry_prices_bills_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("instances.json");
    std::fs::write(
        &file,
        r#"[{"instance_type": "t3.large", "pricing": {"eu-west-1": {"linux": {"ondemand": "0.0912"}}}}]"#,
    )
    .unwrap();
    let text = "cloud: sim\nstore: memory\npricing: {file: instances.json, region: eu-west-1}\n";
    let config = DeploymentConfig::from_yaml_str(text, dir.path()).unwrap();
    let p = crate::registry::pricing(&config).unwrap().unwrap();
    assert_eq!(p.source.on_demand("eu-west-1", "t3.large", "linux").unwrap().to_string(), "0.0912");
    let text = "cloud: sim\nstore: memory\npricing: {file: instances.json}\n";
    let config = DeploymentConfig::from_yaml_str(text, dir.path()).unwrap();
    let e = crate::registry::pricing(&config).unwrap_err();
    assert!(matches!(&e, Error::Validation(v) if v.field == "pricing.region" && v.value == "us-east-1"), "{e}");
}

#[test]
fn the_http_section_is_checked() {
    let c = parse("cloud: sim\nstore: memory\nhttp: {listen: '0.0.0.0:9000', session_ttl: 2h, progress_per_minute: 30, secure_cookies: true, dashboard: false}\n")
        .unwrap();
    assert_eq!(
        (c.http.listen.as_str(), c.http.session_ttl, c.http.progress_per_minute),
        ("0.0.0.0:9000", Some(Duration::from_secs(7200)), Some(30))
    );
    assert_eq!((c.http.secure_cookies, c.http.dashboard), (Some(true), false));
    assert_eq!(parse("cloud: sim\nstore: memory\n").unwrap().http.listen, "127.0.0.1:8080");
    let tls = parse("cloud: sim\nstore: memory\nhttp: {tls: {cert_file: cert.pem, key_file: key.pem}}\n").unwrap();
    assert_eq!(tls.http.tls.map(|t| t.cert_file), Some(PathBuf::from("cert.pem")));
    for (http, field) in [
        ("{listen: 'localhost'}", "http.listen"),
        ("{session_ttl: 10s}", "http.session_ttl"),
        ("{progress_per_minute: 0}", "http.progress_per_minute"),
        ("{tls: {cert: c.pem}}", "cert"),
    ] {
        refused(&format!("cloud: sim\nstore: memory\nhttp: {http}\n"), field);
    }
}

#[test]
fn the_s3_section_is_checked() {
    let c = parse("cloud: sim\nstore: memory\ns3: {datasets: ['s3://lake/curated', 's3://lake/raw/'], notebooks: 's3://hub/jupyter/'}\n")
        .unwrap();
    let s3 = c.s3.unwrap();
    assert_eq!((s3.datasets.len(), s3.notebooks.as_deref()), (2, Some("s3://hub/jupyter/")));
    refused("cloud: sim\nstore: memory\ns3: {datasets: ['s3://lake/x', 'lake/y']}\n", "s3.datasets[1]");
    refused("cloud: sim\nstore: memory\ns3: {notebooks: 's3://UPPER/x'}\n", "s3.notebooks");
    refused("cloud: sim\nstore: memory\ns3: {buckets: []}\n", "buckets");
}
