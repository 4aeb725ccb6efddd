//! The one place a [`DeploymentConfig`] becomes plugins: the [`Cloud`], the [`StateStore`],
//! the [`DnsProvider`], the [`AuthProvider`] and the [`Engine`] over them. The CLI, the
//! quickstart and the simulator build their backends here and nowhere else. A backend whose
//! Cargo feature this build lacks is a validation error naming the feature.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> mliy::Result<()> {
//! use mliy::config::DeploymentConfig;
//! let config = DeploymentConfig::from_yaml_str("cloud: sim\nstore: memory\n", std::path::Path::new("."))?;
//! let services = mliy::registry::Registry::new(&config).catalog(mliy::demo::catalog()?).build().await?;
//! assert!(services.sim.is_some());
//! # Ok(()) }
//! ```

mod auth;
mod cloud;
mod dns;
mod objects;
mod store;

pub use auth::auth;
#[cfg(feature = "ldap")]
pub use auth::ldap_auth;
pub use cloud::cloud;
pub use dns::dns;
pub use objects::{locations as s3_locations, objects};
pub use store::store;

use crate::config::{AuthConfig, CloudConfig, DeploymentConfig, DnsConfig, StoreConfig};
use mliy_core::auth::AuthProvider;
use mliy_core::clock::{Clock, ScaledClock, SystemClock};
use mliy_core::cloud::Cloud;
use mliy_core::dns::DnsProvider;
use mliy_core::engine::{Engine, EngineConfig, RefreshConfig};
use mliy_core::error::{Error, Result};
use mliy_core::model::Catalog;
use mliy_core::sim::SimCloud;
use mliy_core::store::StateStore;
use std::sync::Arc;
use std::time::Duration;

/// What a deployment runs on, built.
#[derive(Debug, Clone)]
pub struct Services {
    /// The engine over the plugins below.
    pub engine: Engine,
    /// The cloud.
    pub cloud: Arc<dyn Cloud>,
    /// The store.
    pub store: Arc<dyn StateStore>,
    /// DNS.
    pub dns: Arc<dyn DnsProvider>,
    /// Authentication, when the config has an `auth` section.
    pub auth: Option<Arc<dyn AuthProvider>>,
    /// The engine's clock.
    pub clock: Arc<dyn Clock>,
    /// The simulated cloud, with `cloud: sim`.
    pub sim: Option<Arc<SimCloud>>,
    /// How refresh passes behave.
    pub refresh: RefreshConfig,
    /// Time between background refresh passes.
    pub refresh_interval: Duration,
}

/// The HTTP API's settings from the config's `http` section.
#[cfg(feature = "http")]
pub fn http_config(config: &DeploymentConfig) -> crate::http::HttpConfig {
    let h = &config.http;
    let d = crate::http::HttpConfig::default();
    crate::http::HttpConfig {
        session_ttl: h.session_ttl.unwrap_or(d.session_ttl),
        progress_per_minute: h.progress_per_minute.unwrap_or(d.progress_per_minute),
        secure_cookies: h.secure_cookies,
        dashboard: h.dashboard,
        ..d
    }
}

/// Where the HTTP API reads datasets: S3 and the config's `s3` section, when it has one.
///
/// # Errors
/// As [`objects`] and [`s3_locations`].
#[cfg(feature = "http")]
pub async fn http_datasets(config: &DeploymentConfig) -> Result<Option<crate::http::DatasetsSource>> {
    if config.s3.is_none() {
        return Ok(None);
    }
    let (prefixes, notebooks) = s3_locations(config)?;
    Ok(Some(crate::http::DatasetsSource { objects: objects(Some(config)).await?, prefixes, notebooks }))
}

/// Builds [`Services`] from a config.
#[derive(Debug)]
pub struct Registry<'a> {
    config: &'a DeploymentConfig,
    catalog: Option<Catalog>,
}

impl<'a> Registry<'a> {
    /// A registry for `config`.
    pub fn new(config: &'a DeploymentConfig) -> Self {
        Registry { config, catalog: None }
    }

    /// Uses this catalog instead of reading the config's `catalog` file.
    pub fn catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Reads secrets, connects every backend and builds the engine.
    ///
    /// # Errors
    /// The first failure, naming its field: a missing feature, an unreadable secret, a
    /// backend that cannot connect, a catalog that does not load.
    pub async fn build(self) -> Result<Services> {
        let config = self.config;
        check_features(config)?;
        let catalog = match self.catalog {
            Some(c) => c,
            None => catalog(config)?,
        };
        let engine_config = engine_config(config)?;
        let auth = auth(config)?;
        let clock = clock(config);
        let (cloud, sim) = cloud(config, clock.clone()).await?;
        let store = store(&config.store, &config.base).await?;
        let dns = dns(config).await?;
        let mut builder = Engine::builder()
            .catalog(catalog)
            .cloud(cloud.clone())
            .store(store.clone())
            .dns(dns.clone())
            .clock(clock.clone())
            .config(engine_config);
        if let Some(p) = pricing(config)? {
            builder = builder.pricing(p);
        }
        let engine = builder.build()?;
        // Passes come every `interval`; one closer than half of it (a restart, another
        // process) is skipped.
        let refresh =
            RefreshConfig { absent_passes: config.refresh.absent_passes, min_interval: config.refresh.interval / 2 };
        let refresh_interval = config.refresh.interval;
        Ok(Services { engine, cloud, store, dns, auth, clock, sim, refresh, refresh_interval })
    }
}

/// The error for a backend this build lacks.
pub fn missing_feature(field: &str, feature: &str) -> Error {
    Error::validation(
        field,
        feature,
        format!("this mliy was built without the `{feature}` feature; rebuild it with `--features {feature}`"),
    )
}

/// Whether this build has every backend the config names, without connecting to any.
///
/// # Errors
/// [`missing_feature`] for the first one it lacks.
pub fn check_features(config: &DeploymentConfig) -> Result<()> {
    let wanted = [
        ("cloud.aws", "aws", matches!(config.cloud, CloudConfig::Aws(_)), cfg!(feature = "aws")),
        ("store.sqlite", "sqlite", matches!(config.store, StoreConfig::Sqlite(_)), cfg!(feature = "sqlite")),
        ("store.postgres", "postgres", matches!(config.store, StoreConfig::Postgres(_)), cfg!(feature = "postgres")),
        ("dns.route53", "route53", matches!(config.dns, DnsConfig::Route53(_)), cfg!(feature = "route53")),
        ("dns.rest", "dns-api", matches!(config.dns, DnsConfig::Rest(_)), cfg!(feature = "dns-api")),
        ("auth.ldap", "ldap", matches!(config.auth, Some(AuthConfig::Ldap(_))), cfg!(feature = "ldap")),
        ("s3", "s3", config.s3.is_some(), cfg!(feature = "s3")),
    ];
    match wanted.iter().find(|(_, _, used, built)| *used && !*built) {
        Some((field, feature, _, _)) => Err(missing_feature(field, feature)),
        None => Ok(()),
    }
}

/// The catalog the config names, with its templates and scripts.
///
/// # Errors
/// [`Error::Validation`] when the config names none; the catalog's errors.
pub fn catalog(config: &DeploymentConfig) -> Result<Catalog> {
    Catalog::from_path(catalog_file(config)?)
}

/// Where the config's catalog file is.
///
/// # Errors
/// [`Error::Validation`] when the config names none.
pub fn catalog_file(config: &DeploymentConfig) -> Result<std::path::PathBuf> {
    let path = config
        .catalog
        .as_deref()
        .ok_or_else(|| Error::validation("catalog", "", "name the catalog file: `catalog: catalog.yaml`"))?;
    Ok(config.path(path))
}

/// What the config's `pricing` section prices bills with: its file streamed once, keeping
/// its region (`cloud.aws.region` by default, else `us-east-1`).
///
/// # Errors
/// The file's read and parse errors; [`Error::Validation`] on `pricing.region` when the file
/// prices nothing there.
pub fn pricing(config: &DeploymentConfig) -> Result<Option<mliy_core::pricing::Pricing>> {
    let Some(p) = &config.pricing else { return Ok(None) };
    let region = match (&p.region, &config.cloud) {
        (Some(r), _) => r.clone(),
        (None, CloudConfig::Aws(aws)) => aws.region.clone().unwrap_or_else(|| "us-east-1".into()),
        (None, _) => "us-east-1".into(),
    };
    let index = mliy_core::pricing::PriceIndex::load(&config.path(&p.file), &[region.as_str()])?;
    if index.regions().next().is_none() {
        return Err(Error::validation("pricing.region", region, format!("{} prices nothing there", p.file.display())));
    }
    let mut pricing = mliy_core::pricing::Pricing::new(Arc::new(index), region);
    pricing.ebs_gb_month = p.ebs_gb_month;
    pricing.discount = p.discount;
    Ok(Some(pricing))
}

/// The engine's settings: the defaults with the config's `engine` section on top.
///
/// # Errors
/// A progress key that cannot be read or is shorter than 32 bytes.
pub fn engine_config(config: &DeploymentConfig) -> Result<EngineConfig> {
    let e = &config.engine;
    let mut out = EngineConfig::default();
    let durations = [
        (&mut out.stack_timeout, e.stack_timeout),
        (&mut out.provision_timeout, e.provision_timeout),
        (&mut out.bootstrap_timeout, e.bootstrap_timeout),
        (&mut out.action_timeout, e.action_timeout),
        (&mut out.terminate_timeout, e.terminate_timeout),
        (&mut out.work_timeout, e.work_timeout),
        (&mut out.stack_poll, e.stack_poll),
        (&mut out.instance_poll, e.instance_poll),
        (&mut out.cluster_poll, e.cluster_poll),
        (&mut out.lease_ttl, e.lease_ttl),
    ];
    for (slot, value) in durations {
        if let Some(v) = value {
            *slot = v;
        }
    }
    if let Some(id) = &e.replica_id {
        out.replica_id = id.clone();
    }
    if let Some(keep) = e.keep_dns_when_stopped {
        out.keep_dns_when_stopped = keep;
    }
    if let Some(source) = &e.progress_key {
        let key = source.resolve("engine.progress_key", &config.base)?;
        if key.expose().len() < 32 {
            return Err(Error::validation("engine.progress_key", source.describe(), "at least 32 bytes (256 bits)"));
        }
        out.progress_key = Some(key);
    }
    out.progress_url.clone_from(&e.progress_url);
    out.activity_url.clone_from(&e.activity_url);
    out.manager_group.clone_from(&e.manager_group);
    Ok(out)
}

/// Real time, or the `sim` section's speed-up with `cloud: sim`.
pub fn clock(config: &DeploymentConfig) -> Arc<dyn Clock> {
    match (&config.cloud, &config.sim) {
        (CloudConfig::Sim, Some(sim)) if sim.speed > 1 => {
            Arc::new(ScaledClock::starting_at(SystemClock.now(), sim.speed))
        }
        _ => Arc::new(SystemClock),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mliy_core::auth::Credentials;
    use mliy_core::model::Principal;
    use mliy_core::secret::Secret;
    use std::path::Path;

    fn config(text: &str) -> DeploymentConfig {
        DeploymentConfig::from_yaml_str(text, Path::new("/etc/mliy")).unwrap()
    }

    #[test]
    fn the_engine_section_lands_in_the_engine_config() {
        let c = config(
            "cloud: sim\nstore: memory\nengine: {replica_id: portal-2, stack_poll: 3s, lease_ttl: 40s, \
             keep_dns_when_stopped: true, progress_url: 'https://p.example/progress', \
             activity_url: 'https://p.example/activity', \
             progress_key: {literal: '0123456789abcdef0123456789abcdef'}}\n",
        );
        let e = engine_config(&c).unwrap();
        assert_eq!(
            (e.replica_id.as_str(), e.stack_poll, e.lease_ttl),
            ("portal-2", Duration::from_secs(3), Duration::from_secs(40))
        );
        assert!(e.keep_dns_when_stopped && e.progress_key.is_some());
        assert_eq!(e.progress_url.as_deref(), Some("https://p.example/progress"));
        assert_eq!(e.activity_url.as_deref(), Some("https://p.example/activity"));
        assert_eq!(e.instance_poll, EngineConfig::default().instance_poll, "unset values keep their defaults");
        let short = config("cloud: sim\nstore: memory\nengine: {progress_key: {literal: short}}\n");
        let err = engine_config(&short).unwrap_err().to_string();
        assert!(err.contains("engine.progress_key") && err.contains("32 bytes") && !err.contains("short"), "{err}");
    }

    #[tokio::test]
    async fn a_sim_deployment_builds_and_a_catalog_is_needed() {
        let c = config("cloud: sim\nsim: {speed: 60}\nstore: memory\nrefresh: {interval: 30s}\n");
        let err = Registry::new(&c).build().await.unwrap_err();
        assert!(matches!(&err, Error::Validation(v) if v.field == "catalog"), "{err}");
        let s = Registry::new(&c).catalog(crate::demo::catalog().unwrap()).build().await.unwrap();
        assert!(s.sim.is_some() && s.auth.is_none());
        assert_eq!(s.refresh_interval, Duration::from_secs(30));
        let ops = Principal { admin: true, ..Principal::new("ops", Vec::<String>::new()) };
        assert!(s.engine.list(&ops, true).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn auth_sections_build_their_providers() {
        let c = config(
            "cloud: sim\nstore: memory\nauth: {static: {users: [{username: alice, password: {literal: pw-1}, \
             groups: [ds], admin: true}]}}\n",
        );
        let auth = auth(&c).unwrap().unwrap();
        let login = |p: &str| Credentials::Password { username: "alice".into(), password: Secret::new(p) };
        let alice = auth.authenticate(&login("pw-1")).await.unwrap();
        assert!(alice.admin && alice.groups == ["ds"]);
        assert!(auth.authenticate(&login("pw-2")).await.is_err());

        let c = config("cloud: sim\nstore: memory\nauth: {header: {user: REMOTE_USER, trusted_proxies: [10.0.0.1]}}\n");
        let auth = super::auth(&c).unwrap().unwrap();
        let headers = std::collections::HashMap::from([("REMOTE_USER".to_string(), "bob".to_string())]);
        let from = |peer: &str| Credentials::Proxied { peer: peer.parse().unwrap(), headers: headers.clone() };
        assert_eq!(auth.authenticate(&from("10.0.0.1")).await.unwrap().username, "bob");
        assert!(auth.authenticate(&from("10.0.0.2")).await.is_err());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn a_postgres_password_and_tls_go_into_the_url() {
        let c = config(
            "cloud: sim\nstore: {postgres: {url: 'postgres://mliy@db:5432/mliy', password: {literal: 'p@ss:w/rd'}, \
             tls: {mode: verify-full, ca_file: ca.pem}}}\n",
        );
        let StoreConfig::Postgres(pg) = &c.store else { panic!("postgres") };
        let url = store::postgres_url(pg, &c.base).unwrap();
        assert_eq!(
            url.expose(),
            "postgres://mliy:p%40ss%3Aw%2Frd@db:5432/mliy?sslmode=verify-full&sslrootcert=/etc/mliy/ca.pem"
        );
        assert!(!format!("{url:?}").contains("p%40ss"));
    }
}
