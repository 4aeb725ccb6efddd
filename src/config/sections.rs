//! The deployment config's sections: which backend does each job, with its settings.

use super::duration;
use super::one_of::one_of;
use super::secret::SecretSource;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// `cloud`: where environments are launched.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudConfig {
    /// The simulated cloud, in this process (settings in the `sim` section).
    Sim,
    /// AWS through the SDK (feature `aws`).
    Aws(AwsSection),
}

one_of!(CloudConfig, "`sim` or `{aws: {region, endpoint_url, profile}}`", units: ["sim" => Sim], data: ["aws" => Aws]);

/// `cloud: {aws: …}` (and what Route53 shares).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSection {
    /// The region (else the environment's or the profile's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Another endpoint, e.g. an emulator on loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// A profile of the shared AWS config files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// `sim`: the simulated cloud's settings (only with `cloud: sim`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SimSection {
    /// How many times faster than real time the simulated cloud runs (1 to 3,600).
    #[serde(default = "one")]
    pub speed: u32,
    /// Decides faults.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Share of API calls that fail (0 to 1).
    #[serde(default)]
    pub faults: f64,
    /// Share of EMR steps that fail (0 to 1), to rehearse a workflow's failure path.
    #[serde(default)]
    pub failing_steps: f64,
}

impl Default for SimSection {
    fn default() -> Self {
        SimSection { speed: 1, seed: 1, faults: 0.0, failing_steps: 0.0 }
    }
}

fn one() -> u32 {
    1
}

fn one_u64() -> u64 {
    1
}

/// `store`: where state is kept.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreConfig {
    /// In memory: lost when the process ends.
    Memory,
    /// A SQLite file (feature `sqlite`; relative to the config file's folder).
    Sqlite(PathBuf),
    /// PostgreSQL (feature `postgres`).
    Postgres(PostgresSection),
}

one_of!(StoreConfig, "`memory`, `{sqlite: PATH}` or `{postgres: {url, password, tls}}`", units: ["memory" => Memory], data: ["sqlite" => Sqlite, "postgres" => Postgres]);

/// `store: {postgres: …}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSection {
    /// `postgres://USER@HOST:PORT/DB`, without a password.
    pub url: String,
    /// The password, if the server wants one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretSource>,
    /// TLS to the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<PostgresTls>,
}

/// `tls: {mode, ca_file}` of a PostgreSQL store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresTls {
    /// libpq's `sslmode`: `disable`, `prefer`, `require`, `verify-ca` or `verify-full`.
    pub mode: String,
    /// The CA certificates (PEM) for `verify-ca` and `verify-full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// `dns`: the names environments get.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsConfig {
    /// No names.
    #[default]
    None,
    /// Route53 (feature `route53`, with the `cloud: {aws}` connection settings).
    Route53(Route53Section),
    /// A REST DNS API, MLiy's `DnsApiUrl` (feature `dns-api`).
    Rest(RestSection),
}

one_of!(DnsConfig, "`none`, `{route53: {domain, prefix, ttl}}` or `{rest: {url, domain, data, api_key}}`", units: ["none" => None], data: ["route53" => Route53, "rest" => Rest]);

/// `dns: {route53: …}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route53Section {
    /// The hosted zone's domain.
    pub domain: String,
    /// What names start with (`mliy-` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The records' TTL in seconds (300 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

/// `dns: {rest: …}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestSection {
    /// The API's URL (https; http only with `allow_plain_http`).
    pub url: String,
    /// The domain names are made in.
    pub domain: String,
    /// What names start with (`mliy-` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Fixed fields sent with every record (MLiy's `DnsApiData`).
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// The API key and the header it goes in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKey>,
    /// `json` (default) or `form`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Time allowed per request.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub timeout: Option<Duration>,
    /// Allow an `http://` URL (the key then travels in clear).
    #[serde(default)]
    pub allow_plain_http: bool,
}

/// `api_key: {header, value}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The header, e.g. `X-Api-Key`.
    pub header: String,
    /// The key.
    pub value: SecretSource,
}

/// `auth`: who is calling (for the HTTP API; the CLI's operator is an admin).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthConfig {
    /// Fixed users, for demos and tests.
    Static(StaticSection),
    /// Headers of a trusted reverse proxy.
    Header(HeaderSection),
    /// LDAP or Active Directory (feature `ldap`).
    Ldap(LdapSection),
}

one_of!(AuthConfig, "`{static: {users}}`, `{header: {user, groups, trusted_proxies}}` or `{ldap: {…}}`", units: [], data: ["static" => Static, "header" => Header, "ldap" => Ldap]);

/// `auth: {static: …}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticSection {
    /// The users.
    pub users: Vec<StaticUser>,
}

/// One static user.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticUser {
    /// The login name.
    pub username: String,
    /// The password.
    pub password: SecretSource,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The name people see.
    #[serde(default)]
    pub display_name: String,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Administers everything.
    #[serde(default)]
    pub admin: bool,
}

/// `auth: {header: …}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderSection {
    /// The header naming the user (e.g. `REMOTE_USER`).
    pub user: String,
    /// The header listing groups, `;`-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<String>,
    /// Members of this group are admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_group: Option<String>,
    /// The proxies whose headers are believed (addresses or ranges; at least one).
    pub trusted_proxies: Vec<String>,
}

/// `auth: {ldap: …}`: every `LdapAuth` option.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSection {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// `openldap` or `ad`.
    pub mode: String,
    /// Where users are searched.
    pub base_dn: String,
    /// The service account.
    pub bind_dn: String,
    /// Its password.
    pub bind_password: SecretSource,
    /// The attribute users are searched by (the mode's default otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_attribute: Option<String>,
    /// Members of this group are admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_group: Option<String>,
    /// Upgrade `ldap://` with StartTLS.
    #[serde(default)]
    pub starttls: bool,
    /// CA certificates (PEM) to trust instead of the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Check the server's certificate (only a throwaway test server may turn it off).
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// Time to connect.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub connect_timeout: Option<Duration>,
    /// Time per bind or search.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub operation_timeout: Option<Duration>,
}

fn yes() -> bool {
    true
}

/// `engine`: waits, deadlines, leases and progress (unset values keep the defaults of
/// `EngineConfig`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// This process's name in leases (random by default; give each replica its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_id: Option<String>,
    /// Stack creation gives up after this.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub stack_timeout: Option<Duration>,
    /// A created instance or cluster must come up within this.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub provision_timeout: Option<Duration>,
    /// The bootstrap must report done within this.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub bootstrap_timeout: Option<Duration>,
    /// Stop, start and reboot must finish within this.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub action_timeout: Option<Duration>,
    /// Termination must finish within this.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub terminate_timeout: Option<Duration>,
    /// Steps and deployments must finish within this.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub work_timeout: Option<Duration>,
    /// How often a stack is polled.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub stack_poll: Option<Duration>,
    /// How often an instance is polled.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub instance_poll: Option<Duration>,
    /// How often a cluster is polled.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub cluster_poll: Option<Duration>,
    /// How long a driver's lease lasts without renewal.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub lease_ttl: Option<Duration>,
    /// Keep a stopped instance's DNS record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_dns_when_stopped: Option<bool>,
    /// The key progress secrets are derived from (at least 32 bytes; the same for every
    /// replica and every restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_key: Option<SecretSource>,
    /// The portal's public progress endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_url: Option<String>,
    /// The portal's public activity endpoint (idle stop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_url: Option<String>,
    /// Members of this group manage the resources of users who share another group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_group: Option<String>,
}

/// `pricing`: what billing segments are priced with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PricingSection {
    /// An ec2instances.info `instances.json` (relative to this file's folder), streamed once
    /// when the deployment starts, keeping the one region.
    pub file: PathBuf,
    /// The region priced (by default `cloud.aws.region`, else `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Dollars per GB-month of the instances' EBS volumes (gp3 in us-east-1, `0.08`, by
    /// default).
    #[serde(default = "gp3")]
    pub ebs_gb_month: mliy_core::pricing::Decimal,
    /// The share taken off every price, from 0 to 1 (`0.1` is 10%).
    #[serde(default)]
    pub discount: mliy_core::pricing::Decimal,
}

fn gp3() -> mliy_core::pricing::Decimal {
    mliy_core::pricing::Decimal::new(8, 2)
}

/// `refresh`: keeping the store in line with the cloud (`mliy run`, `mliy refresh --watch`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshSection {
    /// Time between passes of `mliy run` (5 minutes by default).
    #[serde(default = "five_minutes", with = "duration_required")]
    pub interval: Duration,
    /// Passes a resource must be missing before it is looked at and ended (at least 1).
    #[serde(default = "two")]
    pub absent_passes: u32,
}

impl Default for RefreshSection {
    fn default() -> Self {
        RefreshSection { interval: five_minutes(), absent_passes: two() }
    }
}

fn five_minutes() -> Duration {
    Duration::from_secs(300)
}

fn two() -> u32 {
    2
}

/// A required duration field.
mod duration_required {
    use super::duration;
    use serde::{Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        duration::option::deserialize(d).map(Option::unwrap_or_default)
    }

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&duration::show(*d))
    }
}

/// `http`: how `mliy serve` serves the HTTP API and the dashboard: plain HTTP (behind a
/// TLS proxy, or on loopback) or HTTPS with `tls`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// The address to listen on (`127.0.0.1:8080` by default); `--listen` wins.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Serve the dashboard at `/` (true by default).
    #[serde(default = "yes")]
    pub dashboard: bool,
    /// How long a sign-in lasts (8h by default; 1m to 30d).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration::option")]
    pub session_ttl: Option<Duration>,
    /// Progress reports one launch may send a minute (60 by default; 1 to 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_per_minute: Option<u32>,
    /// Whether session cookies are `Secure`: by default, unless the request's host is a
    /// loopback address. Behind a TLS proxy leave the default or say `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_cookies: Option<bool>,
    /// Serve HTTPS with this certificate (PEM files, relative to the config's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSection>,
}

/// `s3`: where the deployment's datasets and JupyterHub's notebooks are (the HTTP API's
/// `/api/v1/datasets` and the `mliy datasets` commands), reached with `cloud.aws`'s
/// connection settings when the cloud is AWS, else the environment's.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    /// The prefixes datasets are listed under (`s3://bucket/prefix`); nothing outside them
    /// is listed through the API.
    #[serde(default)]
    pub datasets: Vec<String>,
    /// JupyterHub's notebooks (`s3://bucket/jupyter/`), for which notebooks use a dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebooks: Option<String>,
}

/// `http.tls`: the server's certificate chain and private key, PEM.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// The certificate chain, the server's first.
    pub cert_file: PathBuf,
    /// Its private key.
    pub key_file: PathBuf,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: default_listen(),
            dashboard: true,
            session_ttl: None,
            progress_per_minute: None,
            secure_cookies: None,
            tls: None,
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
