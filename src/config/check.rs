//! What serde cannot say about a config: ranges, URL shapes, choices that go together.

use super::{
    AuthConfig, CloudConfig, DeploymentConfig, DnsConfig, EngineSection, HttpSection, PricingSection, RefreshSection,
    S3Section, StoreConfig,
};
use mliy_core::error::{Error, Result};
use std::time::Duration;

pub(super) fn cloud(config: &DeploymentConfig) -> Result<()> {
    match (&config.cloud, &config.sim) {
        (CloudConfig::Aws(_), Some(_)) => {
            Err(Error::validation("sim", "given", "the sim section is for `cloud: sim`, and the cloud is aws"))
        }
        (CloudConfig::Sim, Some(sim)) if !(1..=3600).contains(&sim.speed) => {
            Err(Error::validation("sim.speed", sim.speed.to_string(), "from 1 to 3600 times real time"))
        }
        (CloudConfig::Sim, Some(sim)) if !(0.0..=1.0).contains(&sim.faults) => {
            Err(Error::validation("sim.faults", sim.faults.to_string(), "a share from 0 to 1"))
        }
        (CloudConfig::Sim, Some(sim)) if !(0.0..=1.0).contains(&sim.failing_steps) => {
            Err(Error::validation("sim.failing_steps", sim.failing_steps.to_string(), "a share from 0 to 1"))
        }
        (CloudConfig::Aws(aws), _) => {
            if let Some(url) = &aws.endpoint_url {
                http_url("cloud.aws.endpoint_url", url)?;
            }
            for (field, value) in [("cloud.aws.region", &aws.region), ("cloud.aws.profile", &aws.profile)] {
                if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                    return Err(Error::validation(field, "", "leave it out rather than empty"));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

pub(super) fn store(store: &StoreConfig) -> Result<()> {
    match store {
        StoreConfig::Memory => Ok(()),
        StoreConfig::Sqlite(path) if path.as_os_str().is_empty() => {
            Err(Error::validation("store.sqlite", "", "the SQLite file's path"))
        }
        StoreConfig::Sqlite(_) => Ok(()),
        StoreConfig::Postgres(pg) => {
            let shown = mliy_core::secret::redact_url(&pg.url);
            if !(pg.url.starts_with("postgres://") || pg.url.starts_with("postgresql://")) {
                return Err(Error::validation("store.postgres.url", shown, "a postgres://USER@HOST:PORT/DB URL"));
            }
            if shown != pg.url {
                return Err(Error::validation(
                    "store.postgres.url",
                    shown,
                    "holds a password: put it in `password: {env: NAME}` (or {file: PATH})",
                ));
            }
            if let Some(tls) = &pg.tls {
                let modes = ["disable", "prefer", "require", "verify-ca", "verify-full"];
                if !modes.contains(&tls.mode.as_str()) {
                    return Err(Error::validation("store.postgres.tls.mode", &tls.mode, format!("one of {modes:?}")));
                }
                if tls.mode.starts_with("verify") && tls.ca_file.is_none() {
                    return Err(Error::validation("store.postgres.tls.ca_file", "", "verify modes need the CA file"));
                }
            }
            Ok(())
        }
    }
}

pub(super) fn dns(config: &DeploymentConfig) -> Result<()> {
    match &config.dns {
        DnsConfig::None => Ok(()),
        DnsConfig::Route53(r53) => {
            if !matches!(config.cloud, CloudConfig::Aws(_)) {
                return Err(Error::validation("dns.route53", "given", "Route53 uses the `cloud: {aws}` connection"));
            }
            domain("dns.route53.domain", &r53.domain)?;
            match r53.ttl {
                Some(ttl) if !(1..=172_800).contains(&ttl) => {
                    Err(Error::validation("dns.route53.ttl", ttl.to_string(), "from 1 to 172800 seconds"))
                }
                _ => Ok(()),
            }
        }
        DnsConfig::Rest(rest) => {
            domain("dns.rest.domain", &rest.domain)?;
            http_url("dns.rest.url", &rest.url)?;
            if rest.url.starts_with("http://") && !rest.allow_plain_http {
                return Err(Error::validation(
                    "dns.rest.url",
                    mliy_core::secret::redact_url(&rest.url),
                    "must be https:// (the API key would travel in clear); `allow_plain_http: true` permits http://",
                ));
            }
            match rest.payload.as_deref() {
                None | Some("json" | "form") => Ok(()),
                Some(other) => Err(Error::validation("dns.rest.payload", other, "json or form")),
            }
        }
    }
}

pub(super) fn auth(auth: &AuthConfig) -> Result<()> {
    match auth {
        AuthConfig::Static(s) => {
            let mut seen = std::collections::HashSet::new();
            if s.users.is_empty() {
                return Err(Error::validation("auth.static.users", "[]", "at least one user"));
            }
            for (i, u) in s.users.iter().enumerate() {
                if u.username.trim().is_empty() || !seen.insert(u.username.as_str()) {
                    return Err(Error::validation(
                        format!("auth.static.users[{i}].username"),
                        &u.username,
                        "a username given once",
                    ));
                }
            }
            Ok(())
        }
        AuthConfig::Header(h) => {
            if h.user.trim().is_empty() {
                return Err(Error::validation("auth.header.user", "", "the header naming the user, e.g. REMOTE_USER"));
            }
            if h.trusted_proxies.is_empty() {
                return Err(Error::validation(
                    "auth.header.trusted_proxies",
                    "[]",
                    "name the proxies whose headers are believed (addresses or ranges)",
                ));
            }
            for (i, p) in h.trusted_proxies.iter().enumerate() {
                mliy_core::auth::IpNet::parse(p).map_err(|_| {
                    Error::validation(
                        format!("auth.header.trusted_proxies[{i}]"),
                        p,
                        "an address or range, e.g. 10.0.0.0/8",
                    )
                })?;
            }
            Ok(())
        }
        AuthConfig::Ldap(l) => {
            if !matches!(l.mode.as_str(), "openldap" | "ad") {
                return Err(Error::validation("auth.ldap.mode", &l.mode, "openldap or ad"));
            }
            if !(l.url.starts_with("ldap://") || l.url.starts_with("ldaps://")) {
                return Err(Error::validation("auth.ldap.url", &l.url, "must start with ldap:// or ldaps://"));
            }
            positive("auth.ldap.connect_timeout", l.connect_timeout)?;
            positive("auth.ldap.operation_timeout", l.operation_timeout)
        }
    }
}

pub(super) fn engine(e: &EngineSection) -> Result<()> {
    if e.replica_id.as_deref().is_some_and(|r| r.trim().is_empty() || r.len() > 200) {
        return Err(Error::validation("engine.replica_id", "", "a name of 1 to 200 characters"));
    }
    if let Some(url) = &e.activity_url {
        http_url("engine.activity_url", url)?;
    }
    if let Some(url) = &e.progress_url {
        http_url("engine.progress_url", url)?;
    }
    for (field, d) in [
        ("engine.stack_timeout", e.stack_timeout),
        ("engine.provision_timeout", e.provision_timeout),
        ("engine.bootstrap_timeout", e.bootstrap_timeout),
        ("engine.action_timeout", e.action_timeout),
        ("engine.terminate_timeout", e.terminate_timeout),
        ("engine.work_timeout", e.work_timeout),
        ("engine.stack_poll", e.stack_poll),
        ("engine.instance_poll", e.instance_poll),
        ("engine.cluster_poll", e.cluster_poll),
        ("engine.lease_ttl", e.lease_ttl),
    ] {
        positive(field, d)?;
    }
    if e.lease_ttl.is_some_and(|t| t < Duration::from_secs(2)) {
        return Err(Error::validation("engine.lease_ttl", "under 2s", "at least 2s"));
    }
    Ok(())
}

pub(super) fn pricing(p: &PricingSection) -> Result<()> {
    use mliy_core::pricing::Decimal;
    if p.file.as_os_str().is_empty() {
        return Err(Error::validation("pricing.file", "", "name an ec2instances.info instances.json"));
    }
    if p.region.as_deref().is_some_and(|r| r.trim().is_empty()) {
        return Err(Error::validation("pricing.region", "", "a region such as us-east-1"));
    }
    if p.ebs_gb_month.is_sign_negative() {
        return Err(Error::validation("pricing.ebs_gb_month", p.ebs_gb_month.to_string(), "at least 0"));
    }
    if p.discount.is_sign_negative() || p.discount > Decimal::ONE {
        return Err(Error::validation("pricing.discount", p.discount.to_string(), "a share from 0 to 1"));
    }
    Ok(())
}

pub(super) fn refresh(r: &RefreshSection) -> Result<()> {
    if r.absent_passes == 0 {
        return Err(Error::validation("refresh.absent_passes", "0", "at least 1"));
    }
    if r.interval < Duration::from_secs(1) {
        return Err(Error::validation("refresh.interval", super::duration::show(r.interval), "at least 1s"));
    }
    Ok(())
}

fn positive(field: &str, d: Option<Duration>) -> Result<()> {
    match d {
        Some(d) if d.is_zero() => Err(Error::validation(field, "0s", "longer than zero")),
        _ => Ok(()),
    }
}

fn http_url(field: &str, url: &str) -> Result<()> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !url.contains(char::is_whitespace) => Ok(()),
        _ => Err(Error::validation(field, mliy_core::secret::redact_url(url), "an http:// or https:// URL")),
    }
}

fn domain(field: &str, domain: &str) -> Result<()> {
    let d = domain.trim().trim_end_matches('.');
    let ok = !d.is_empty()
        && d.split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if ok { Ok(()) } else { Err(Error::validation(field, domain, "a DNS domain such as analytics.example.com")) }
}

pub(super) fn http(h: &HttpSection) -> Result<()> {
    if h.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(Error::validation("http.listen", &h.listen, "an IP address and port, such as 127.0.0.1:8080"));
    }
    if let Some(ttl) = h.session_ttl.filter(|t| *t < Duration::from_secs(60) || *t > Duration::from_secs(30 * 86_400)) {
        return Err(Error::validation("http.session_ttl", format!("{}s", ttl.as_secs()), "from 1m to 30d"));
    }
    if let Some(n) = h.progress_per_minute.filter(|n| !(1..=10_000).contains(n)) {
        return Err(Error::validation("http.progress_per_minute", n.to_string(), "from 1 to 10000"));
    }
    Ok(())
}

pub(super) fn s3(s3: &S3Section) -> Result<()> {
    for (i, prefix) in s3.datasets.iter().enumerate() {
        mliy_core::objects::S3Location::parse(&format!("s3.datasets[{i}]"), prefix)?;
    }
    if let Some(n) = &s3.notebooks {
        mliy_core::objects::S3Location::parse("s3.notebooks", n)?;
    }
    Ok(())
}
