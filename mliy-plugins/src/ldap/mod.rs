//! `LdapAuth`: authentication against Active Directory or OpenLDAP.
//!
//! The flow: refuse an empty password or a username that could widen a search; bind as the
//! service account; find the user under the base DN with an escaped filter; bind as the user
//! with the given password; read display name, mail and groups (AD: `memberOf` and nested
//! groups; OpenLDAP: the `memberOf` overlay, or a `member` search without it). Admin rights
//! come from membership of the configured admin group, compared as a DN — never by substring,
//! and never for everybody when the setting is empty.
//!
//! ```no_run
//! # async fn demo() -> mliy_core::Result<()> {
//! use mliy_core::auth::{AuthProvider, Credentials};
//! use mliy_core::secret::Secret;
//! use mliy_plugins::ldap::{DirectoryKind, LdapAuth};
//!
//! let auth = LdapAuth::builder("ldaps://ldap.example.com", DirectoryKind::ActiveDirectory)
//!     .base_dn("dc=example,dc=com")
//!     .bind("cn=svc-mliy,ou=services,dc=example,dc=com", Secret::new("from a vault"))
//!     .admin_group("cn=mliy-admins,ou=groups,dc=example,dc=com")
//!     .build()?;
//! let who = auth
//!     .authenticate(&Credentials::Password { username: "alice".into(), password: Secret::new("…") })
//!     .await?;
//! # Ok(()) }
//! ```

mod filter;

use async_trait::async_trait;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use mliy_core::auth::{AuthProvider, Credentials};
use mliy_core::error::{Error, Result};
use mliy_core::model::{Principal, normalize_dn};
use mliy_core::secret::Secret;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::sync::Mutex;

/// Which directory the server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryKind {
    /// Active Directory: `sAMAccountName` or `userPrincipalName`, `memberOf`, nested groups,
    /// `userAccountControl`.
    ActiveDirectory,
    /// OpenLDAP: `uid`, the `memberOf` overlay or `groupOfNames` / `groupOfUniqueNames`.
    OpenLdap,
}

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LdapError {
    /// Wrong or empty password, or no such user (the two are not told apart).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The account exists but may not log in.
    #[error("account disabled: {0}")]
    AccountDisabled(String),
    /// The username could widen a search or is malformed.
    #[error("invalid username: {0}")]
    InvalidUsername(String),
    /// The directory could not be reached in time (retryable).
    #[error("directory unreachable: {0}")]
    Unreachable(String),
    /// The configuration is wrong: the service bind fails, the base DN does not exist, ….
    #[error("LDAP misconfigured: {0}")]
    Misconfigured(String),
}

impl LdapError {
    /// The kind's stable name: `invalid_credentials`, `account_disabled`, `invalid_username`,
    /// `unreachable`, `misconfigured`.
    pub fn kind(&self) -> &'static str {
        match self {
            LdapError::InvalidCredentials => "invalid_credentials",
            LdapError::AccountDisabled(_) => "account_disabled",
            LdapError::InvalidUsername(_) => "invalid_username",
            LdapError::Unreachable(_) => "unreachable",
            LdapError::Misconfigured(_) => "misconfigured",
        }
    }
}

impl From<LdapError> for Error {
    fn from(e: LdapError) -> Self {
        match e {
            LdapError::Unreachable(m) => Error::Unavailable(format!("directory unreachable: {m}")),
            LdapError::Misconfigured(m) => Error::Backend { backend: "ldap", source: m.into() },
            other => Error::Unauthenticated(other.to_string()),
        }
    }
}

/// Builds an [`LdapAuth`].
#[derive(Debug, Clone)]
pub struct LdapAuthBuilder {
    url: String,
    kind: DirectoryKind,
    base_dn: String,
    bind_dn: String,
    bind_password: Secret,
    user_attribute: Option<String>,
    admin_group: Option<String>,
    starttls: bool,
    tls_verify: bool,
    ca_file: Option<std::path::PathBuf>,
    connect_timeout: Duration,
    op_timeout: Duration,
}

impl LdapAuthBuilder {
    /// The subtree users are searched in.
    pub fn base_dn(mut self, dn: impl Into<String>) -> Self {
        self.base_dn = dn.into();
        self
    }

    /// The service account that searches.
    pub fn bind(mut self, dn: impl Into<String>, password: Secret) -> Self {
        self.bind_dn = dn.into();
        self.bind_password = password;
        self
    }

    /// Reads the service account's password from a command's standard output (as MLiy's
    /// `LDAP_USER_PASSWD_CMD`); the output is never logged.
    ///
    /// # Errors
    /// [`Error::Validation`] when the command cannot run or fails.
    pub fn bind_password_command(mut self, dn: impl Into<String>, program: &str, args: &[&str]) -> Result<Self> {
        let out = std::process::Command::new(program)
            .args(args)
            .output()
            .map_err(|e| Error::validation("bind_password_command", program, format!("cannot run: {e}")))?;
        if !out.status.success() {
            return Err(Error::validation("bind_password_command", program, format!("exited with {}", out.status)));
        }
        let password = String::from_utf8_lossy(&out.stdout).trim_end_matches(['\r', '\n']).to_string();
        self.bind_dn = dn.into();
        self.bind_password = Secret::new(password);
        Ok(self)
    }

    /// Searches users by this attribute instead of the kind's default.
    pub fn user_attribute(mut self, attribute: impl Into<String>) -> Self {
        self.user_attribute = Some(attribute.into());
        self
    }

    /// Members of this group (compared as a DN) are admins. Without it nobody is.
    pub fn admin_group(mut self, dn: impl Into<String>) -> Self {
        let dn = dn.into();
        self.admin_group = (!dn.trim().is_empty()).then_some(dn);
        self
    }

    /// Upgrades `ldap://` with StartTLS.
    pub fn starttls(mut self, on: bool) -> Self {
        self.starttls = on;
        self
    }

    /// Trusts the CA certificates in this PEM file (instead of the system's) for `ldaps://` and
    /// StartTLS.
    pub fn ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Turns certificate validation off. Only for tests against a throwaway server.
    pub fn danger_disable_tls_verification(mut self) -> Self {
        self.tls_verify = false;
        self
    }

    /// Connect and operation timeouts.
    pub fn timeouts(mut self, connect: Duration, operation: Duration) -> Self {
        self.connect_timeout = connect;
        self.op_timeout = operation;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the setting that is missing or malformed.
    pub fn build(self) -> Result<LdapAuth> {
        if !(self.url.starts_with("ldap://") || self.url.starts_with("ldaps://")) {
            return Err(Error::validation("url", &self.url, "must start with ldap:// or ldaps://"));
        }
        if self.starttls && self.url.starts_with("ldaps://") {
            return Err(Error::validation("starttls", "true", "StartTLS upgrades ldap://, not ldaps://"));
        }
        if self.base_dn.trim().is_empty() {
            return Err(Error::validation("base_dn", "", "the subtree users are searched in is needed"));
        }
        if self.bind_dn.trim().is_empty() || self.bind_password.is_empty() {
            return Err(Error::validation("bind", &self.bind_dn, "a service account DN and password are needed"));
        }
        // ldap3 builds its own TLS configuration when no CA file is given, with rustls's
        // process-wide provider. With the AWS SDK in the same program both ring and aws-lc-rs
        // are compiled in and rustls cannot pick one, so choose ring unless the application
        // already chose (then this does nothing).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = self.ca_file.as_deref().map(tls_config).transpose()?;
        Ok(LdapAuth { config: self, tls, service: Mutex::new(None) })
    }
}

/// A rustls configuration that trusts the CA certificates of a PEM file.
fn tls_config(path: &std::path::Path) -> Result<std::sync::Arc<rustls::ClientConfig>> {
    use rustls_pki_types::pem::PemObject;
    let bad = |rule: String| Error::validation("ca_file", path.display().to_string(), rule);
    let mut roots = rustls::RootCertStore::empty();
    let certs =
        rustls_pki_types::CertificateDer::pem_file_iter(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    for cert in certs {
        let cert = cert.map_err(|e| bad(format!("is not PEM: {e}")))?;
        roots.add(cert).map_err(|e| bad(format!("holds an unusable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

/// Authenticates against a directory; see the [module docs](self).
#[derive(Debug)]
pub struct LdapAuth {
    config: LdapAuthBuilder,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// The service account's connection, kept between logins.
    service: Mutex<Option<Ldap>>,
}

/// What the directory says of a user.
struct Found {
    dn: String,
    attrs: HashMap<String, Vec<String>>,
}

impl Found {
    fn first(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.first()).map(String::as_str)
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.attrs.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).flat_map(|(_, v)| v.clone()).collect()
    }
}

/// A connection or operation failure: a certificate that does not validate is a
/// configuration problem; anything else may pass.
fn unreachable(e: impl std::fmt::Display) -> LdapError {
    let text = e.to_string();
    if text.contains("certificate") {
        LdapError::Misconfigured(format!("TLS: {text}"))
    } else {
        LdapError::Unreachable(text)
    }
}

impl LdapAuth {
    /// A builder for the server at `url` (`ldap://host:port` or `ldaps://…`).
    pub fn builder(url: impl Into<String>, kind: DirectoryKind) -> LdapAuthBuilder {
        LdapAuthBuilder {
            url: url.into(),
            kind,
            base_dn: String::new(),
            bind_dn: String::new(),
            bind_password: Secret::new(""),
            user_attribute: None,
            admin_group: None,
            starttls: false,
            tls_verify: true,
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            op_timeout: Duration::from_secs(10),
        }
    }

    async fn connect(&self) -> Result<Ldap, LdapError> {
        let c = &self.config;
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(c.connect_timeout)
            .set_starttls(c.starttls)
            .set_no_tls_verify(!c.tls_verify);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(std::sync::Arc::clone(tls));
        }
        let connecting = LdapConnAsync::with_settings(settings, &c.url);
        let (conn, ldap) = tokio::time::timeout(c.connect_timeout, connecting)
            .await
            .map_err(|_| LdapError::Unreachable(format!("no connection within {:?}", c.connect_timeout)))?
            .map_err(unreachable)?;
        ldap3::drive!(conn);
        Ok(ldap)
    }

    /// Runs one directory operation within the operation timeout: ldap3's own timeout covers
    /// only the next operation of a handle, so every call is bounded here.
    async fn bounded<T>(
        &self,
        what: &str,
        op: impl std::future::Future<Output = ldap3::result::Result<T>>,
    ) -> Result<ldap3::result::Result<T>, LdapError> {
        let limit = self.config.op_timeout;
        tokio::time::timeout(limit, op)
            .await
            .map_err(|_| LdapError::Unreachable(format!("no answer to the {what} within {limit:?}")))
    }

    /// Binds; `Ok(Err(text))` for rejected credentials (result code 49).
    async fn bind(&self, ldap: &mut Ldap, dn: &str, password: &str) -> Result<Result<(), String>, LdapError> {
        let result = self.bounded("bind", ldap.simple_bind(dn, password)).await?.map_err(unreachable)?;
        match result.rc {
            0 => Ok(Ok(())),
            49 => Ok(Err(result.text)),
            rc => Err(LdapError::Misconfigured(format!("bind answered result code {rc}"))),
        }
    }

    /// A handle on the shared service connection, bound as the service account. The lock is
    /// held only to read or set the slot, never across a network wait: ldap3's handles
    /// multiplex one connection, so logins search side by side.
    async fn service(&self) -> Result<Ldap, LdapError> {
        if let Some(ldap) = self.service.lock().await.as_ref() {
            return Ok(ldap.clone());
        }
        let mut ldap = self.connect().await?;
        let c = &self.config;
        if self.bind(&mut ldap, &c.bind_dn, c.bind_password.expose()).await?.is_err() {
            return Err(LdapError::Misconfigured(format!("the service account {} was refused", c.bind_dn)));
        }
        let mut slot = self.service.lock().await;
        // Another login may have connected meanwhile: keep one connection.
        Ok(slot.get_or_insert(ldap).clone())
    }

    /// Forgets the shared connection (it failed or stalled); the next search reconnects.
    async fn drop_service(&self) {
        *self.service.lock().await = None;
    }

    async fn search(&self, base: &str, filter: &str, attrs: &[&str]) -> Result<Vec<Found>, LdapError> {
        for attempt in 0..2 {
            let mut ldap = self.service().await?;
            let answer = self.bounded("search", ldap.search(base, Scope::Subtree, filter, attrs.to_vec())).await;
            let answer = match answer {
                Ok(answer) => answer,
                // A stalled directory is not asked again: the caller has waited long enough.
                Err(stalled) => {
                    self.drop_service().await;
                    return Err(stalled);
                }
            };
            match answer {
                Ok(result) => {
                    let (entries, _) = match result.success() {
                        Ok(ok) => ok,
                        Err(ldap3::LdapError::LdapResult { result }) if result.rc == 32 => {
                            return Err(LdapError::Misconfigured(format!("the base DN {base} does not exist")));
                        }
                        Err(e) => return Err(LdapError::Misconfigured(format!("search failed: {e}"))),
                    };
                    return Ok(entries
                        .into_iter()
                        .map(SearchEntry::construct)
                        .map(|e| Found { dn: e.dn, attrs: e.attrs })
                        .collect());
                }
                // A dropped connection: reconnect once.
                Err(e) if attempt == 0 => {
                    tracing::debug!(target: "mliy::auth", error = %e, "LDAP connection lost; reconnecting");
                    self.drop_service().await;
                }
                Err(e) => {
                    self.drop_service().await;
                    return Err(unreachable(e));
                }
            }
        }
        Err(LdapError::Unreachable("the connection keeps failing".into()))
    }

    /// Authenticates `username` with `password`, returning the plugin's own error kinds (the
    /// [`AuthProvider`] implementation maps them to mliy's).
    ///
    /// # Errors
    /// See [`LdapError`].
    pub async fn check(&self, username: &str, password: &Secret) -> Result<Principal, LdapError> {
        filter::check_username(username)?;
        if password.is_empty() {
            // An empty simple bind is an anonymous bind, which "succeeds".
            return Err(LdapError::InvalidCredentials);
        }
        let c = &self.config;
        let ad = c.kind == DirectoryKind::ActiveDirectory;
        let user_filter = filter::user_filter(ad, c.user_attribute.as_deref(), username);
        let attrs = ["cn", "displayName", "mail", "memberOf", "userAccountControl", "uid", "sAMAccountName"];
        let mut found = self.search(&c.base_dn, &user_filter, &attrs).await?;
        let user = match found.len() {
            0 => return Err(LdapError::InvalidCredentials),
            1 => found.remove(0),
            n => return Err(LdapError::Misconfigured(format!("{n} entries match one username"))),
        };
        if let Some(why) = filter::account_blocked(user.first("userAccountControl")) {
            return Err(LdapError::AccountDisabled(why.into()));
        }
        let mut own = self.connect().await?;
        let bound = self.bind(&mut own, &user.dn, password.expose()).await;
        let _ = tokio::time::timeout(self.config.op_timeout, own.unbind()).await;
        let bound = bound?;
        if let Err(text) = bound {
            // AD tells why in the diagnostic text: 533 disabled, 775 locked, 701/532 expired.
            for (code, why) in [("data 533", "the account is disabled"), ("data 775", "the account is locked out")] {
                if text.contains(code) {
                    return Err(LdapError::AccountDisabled(why.into()));
                }
            }
            return Err(LdapError::InvalidCredentials);
        }
        let groups = self.groups(&user).await?;
        let admin = c.admin_group.as_deref().is_some_and(|a| {
            let a = normalize_dn(a);
            groups.iter().any(|g| normalize_dn(g) == a)
        });
        let login = if ad { user.first("sAMAccountName") } else { user.first("uid") };
        tracing::info!(target: "mliy::auth", user = %username, groups = groups.len(), admin, "LDAP login");
        Ok(Principal {
            username: login.unwrap_or(username).to_string(),
            display_name: user.first("displayName").or(user.first("cn")).unwrap_or(username).to_string(),
            email: user.first("mail").map(str::to_string),
            groups: groups.into_iter().collect(),
            admin,
        })
    }

    /// The user's groups: direct, and in AD mode nested ones too.
    async fn groups(&self, user: &Found) -> Result<BTreeSet<String>, LdapError> {
        let c = &self.config;
        let mut direct: BTreeSet<String> = user.all("memberOf").into_iter().collect();
        if direct.is_empty() {
            // No memberOf (OpenLDAP without the overlay): ask the groups.
            direct = self
                .search(&c.base_dn, &filter::member_filter(&user.dn), &["1.1"])
                .await?
                .into_iter()
                .map(|e| e.dn)
                .collect();
        }
        if c.kind != DirectoryKind::ActiveDirectory {
            return Ok(direct);
        }
        // AD: the in-chain rule resolves nesting on the server; a server without it (or an
        // empty answer) falls back to following memberOf upwards.
        let chain = self.search(&c.base_dn, &filter::in_chain_filter(&user.dn), &["1.1"]).await;
        if let Ok(entries) = &chain
            && !entries.is_empty()
        {
            return Ok(entries.iter().map(|e| e.dn.clone()).chain(direct).collect());
        }
        let mut all = direct.clone();
        let mut todo: Vec<String> = direct.into_iter().collect();
        while let Some(group) = todo.pop() {
            if all.len() > 10_000 {
                break;
            }
            // A group outside the base (or gone) simply has no parents here.
            let found = self.search(&group, "(objectClass=*)", &["memberOf"]).await.unwrap_or_default();
            let parents =
                found.iter().filter(|g| normalize_dn(&g.dn) == normalize_dn(&group)).flat_map(|g| g.all("memberOf"));
            for parent in parents {
                if all.insert(parent.clone()) {
                    todo.push(parent);
                }
            }
        }
        Ok(all)
    }
}

#[async_trait]
impl AuthProvider for LdapAuth {
    async fn authenticate(&self, credentials: &Credentials) -> Result<Principal> {
        match credentials {
            Credentials::Password { username, password } => Ok(self.check(username, password).await?),
            _ => Err(Error::Unauthenticated("LdapAuth takes a username and password".into())),
        }
    }
}
