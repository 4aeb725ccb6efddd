//! The deployment config, `mliy.yaml`: which cloud, store, DNS and authentication a
//! deployment uses, and the engine's settings. [`crate::registry`] turns it into running
//! plugins.
//!
//! ```yaml
//! catalog: catalog.yaml            # relative to this file's folder
//! cloud: {aws: {region: us-east-1}}
//! store: {sqlite: state.sqlite}
//! dns: {route53: {domain: analytics.example.com}}
//! auth:
//!   ldap:
//!     url: ldaps://ldap.example.com
//!     mode: ad
//!     base_dn: dc=example,dc=com
//!     bind_dn: cn=mliy,ou=services,dc=example,dc=com
//!     bind_password: {command: "aws secretsmanager get-secret-value --secret-id ldap --query SecretString --output text"}
//! engine: {replica_id: portal-1, progress_key: {file: progress.key}, progress_url: https://portal.example.com/progress}
//! refresh: {interval: 5m}
//! pricing: {file: instances.json, region: us-east-1, ebs_gb_month: 0.08, discount: 0.1}
//! ```
//!
//! Unknown fields are refused, and every error names the field. Secrets are sources
//! ([`SecretSource`]), never values, unless written as `{literal: …}`.

mod duration;
mod one_of;
mod secret;
mod sections;

pub use duration::{parse as parse_duration, show as show_duration};
pub use secret::{CommandLine, Literal, SecretSource};
pub use sections::*;

use mliy_core::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "MLIY_CONFIG";
/// Longest config file read.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// A deployment: `mliy.yaml`. See the [module docs](self).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// The catalog file (relative to the config file's folder).
    #[serde(default)]
    pub catalog: Option<PathBuf>,
    /// Where environments are launched.
    pub cloud: CloudConfig,
    /// Where state is kept.
    pub store: StoreConfig,
    /// The names environments get (`none` by default).
    #[serde(default)]
    pub dns: DnsConfig,
    /// Who is calling, for the HTTP API (the CLI's operator is an admin).
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// The engine's settings.
    #[serde(default)]
    pub engine: EngineSection,
    /// Refresh's settings.
    #[serde(default)]
    pub refresh: RefreshSection,
    /// What bills are priced with (unpriced without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<PricingSection>,
    /// The simulated cloud's settings (only with `cloud: sim`).
    #[serde(default)]
    pub sim: Option<SimSection>,
    /// How `mliy serve` serves the HTTP API.
    #[serde(default)]
    pub http: HttpSection,
    /// Datasets and notebooks in S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Section>,
    /// The folder relative paths start from.
    #[serde(skip)]
    pub base: PathBuf,
}

impl DeploymentConfig {
    /// A config with this cloud and store and defaults for the rest (for programs that
    /// build their config in code, as the quickstart does).
    pub fn new(cloud: CloudConfig, store: StoreConfig) -> Self {
        DeploymentConfig {
            catalog: None,
            cloud,
            store,
            dns: DnsConfig::None,
            auth: None,
            engine: EngineSection::default(),
            refresh: RefreshSection::default(),
            pricing: None,
            sim: None,
            http: HttpSection::default(),
            s3: None,
            base: PathBuf::from("."),
        }
    }

    /// Parses YAML; relative paths will start from `base`.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the field, line and column; [`Error::Validation`] naming the
    /// field, the value and the rule.
    pub fn from_yaml_str(text: &str, base: &Path) -> Result<DeploymentConfig> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(Error::validation("config", format!("{} bytes", text.len()), "at most 1 MiB"));
        }
        // The bounded reader first (alias bombs, duplicate keys), then serde.
        mliy_core::template::parse_yaml(text).map_err(|e| Error::parse("config", e))?;
        let mut config: DeploymentConfig =
            serde_norway::from_str(text).map_err(|e| Error::parse("config", e.to_string()))?;
        config.base = base.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    /// Reads a config file.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read; otherwise as [`DeploymentConfig::from_yaml_str`],
    /// with the file named.
    pub fn from_path(path: &Path) -> Result<DeploymentConfig> {
        let text = mliy_core::files::read_bounded(path, MAX_CONFIG_BYTES)?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        DeploymentConfig::from_yaml_str(&text, base).map_err(|e| match e {
            Error::Parse { message, .. } => Error::parse(format!("config {}", path.display()), message),
            other => other,
        })
    }

    /// The config named by `--config`, else by `MLIY_CONFIG`.
    ///
    /// # Errors
    /// [`Error::Validation`] when neither names one; otherwise as [`DeploymentConfig::from_path`].
    pub fn locate(flag: Option<&Path>) -> Result<DeploymentConfig> {
        let from_env = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        match flag.map(Path::to_path_buf).or(from_env) {
            Some(path) => DeploymentConfig::from_path(&path),
            None => Err(Error::validation("--config", "", format!("name the deployment config (or set {CONFIG_ENV})"))),
        }
    }

    /// A path from the file, relative to its folder.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { self.base.join(p) }
    }

    /// Every secret the config names, with its field.
    pub fn secrets(&self) -> Vec<(String, &SecretSource)> {
        let mut out = Vec::new();
        if let StoreConfig::Postgres(pg) = &self.store
            && let Some(p) = &pg.password
        {
            out.push(("store.postgres.password".to_string(), p));
        }
        if let DnsConfig::Rest(rest) = &self.dns
            && let Some(key) = &rest.api_key
        {
            out.push(("dns.rest.api_key.value".to_string(), &key.value));
        }
        match &self.auth {
            Some(AuthConfig::Ldap(ldap)) => out.push(("auth.ldap.bind_password".into(), &ldap.bind_password)),
            Some(AuthConfig::Static(s)) => {
                for (i, u) in s.users.iter().enumerate() {
                    out.push((format!("auth.static.users[{i}].password"), &u.password));
                }
            }
            _ => {}
        }
        if let Some(key) = &self.engine.progress_key {
            out.push(("engine.progress_key".into(), key));
        }
        out
    }

    fn validate(&self) -> Result<()> {
        check::cloud(self)?;
        check::store(&self.store)?;
        check::dns(self)?;
        if let Some(auth) = &self.auth {
            check::auth(auth)?;
        }
        check::engine(&self.engine)?;
        if let Some(p) = &self.pricing {
            check::pricing(p)?;
        }
        check::http(&self.http)?;
        if let Some(s3) = &self.s3 {
            check::s3(s3)?;
        }
        check::refresh(&self.refresh)
    }
}

impl StoreConfig {
    /// The command line's short form: `memory`, `sqlite:PATH`, `postgres:URL` or a
    /// `postgres://…` URL.
    ///
    /// # Errors
    /// [`Error::Validation`] naming `field` for anything else (the value shown without a
    /// password).
    pub fn from_spec(field: &str, spec: &str) -> Result<StoreConfig> {
        let store = match spec.split_once(':') {
            None if spec == "memory" => StoreConfig::Memory,
            Some(("sqlite", path)) if !path.is_empty() => StoreConfig::Sqlite(PathBuf::from(path)),
            Some(("postgres" | "postgresql", rest)) if !rest.is_empty() => {
                let url = if rest.starts_with("//") { spec.to_string() } else { rest.to_string() };
                StoreConfig::Postgres(PostgresSection { url, password: None, tls: None })
            }
            _ => {
                return Err(Error::validation(
                    field,
                    mliy_core::secret::redact_url(spec),
                    "must be memory, sqlite:PATH or postgres://USER@HOST:PORT/DB",
                ));
            }
        };
        check::store(&store).map_err(|e| match e {
            Error::Validation(v) => Error::validation(field, mliy_core::secret::redact_url(spec), v.rule),
            other => other,
        })?;
        Ok(store)
    }
}

mod check;

#[cfg(test)]
mod tests;
