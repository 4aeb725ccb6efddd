//! Authentication: who is calling. `LdapAuth` lives in `mliy-plugins` (feature `ldap`).

use crate::error::{Error, Result};
use crate::model::Principal;
use crate::secret::Secret;
use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt::Debug;

/// What a caller presents.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A username and password.
    Password {
        /// The username.
        username: String,
        /// The password.
        password: Secret,
    },
    /// Headers set by a trusted reverse proxy that authenticated the user.
    Headers(HashMap<String, String>),
}

/// Turns credentials into a [`Principal`].
///
/// # Contract
/// Returns a principal only for credentials it verified; group membership is read afresh at
/// every call, so removed groups and revoked admin rights take effect at the next login.
///
/// # Errors
/// [`Error::Unauthenticated`] for wrong, empty or missing credentials, [`Error::Unavailable`]
/// when the directory cannot be reached.
#[async_trait]
pub trait AuthProvider: Debug + Send + Sync + 'static {
    /// Authenticates.
    async fn authenticate(&self, credentials: &Credentials) -> Result<Principal>;
}

/// Fixed users with passwords, for tests and demos.
#[derive(Debug, Default, Clone)]
pub struct StaticAuth {
    users: HashMap<String, (Secret, Principal)>,
}

impl StaticAuth {
    /// No users.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user.
    pub fn with_user(mut self, principal: Principal, password: impl Into<String>) -> Self {
        self.users.insert(principal.username.clone(), (Secret::new(password), principal));
        self
    }
}

#[async_trait]
impl AuthProvider for StaticAuth {
    async fn authenticate(&self, credentials: &Credentials) -> Result<Principal> {
        let Credentials::Password { username, password } = credentials else {
            return Err(Error::Unauthenticated("StaticAuth takes a username and password".into()));
        };
        match self.users.get(username) {
            Some((expected, principal))
                if !password.is_empty()
                    && crate::secret::constant_time_eq(expected.expose().as_bytes(), password.expose().as_bytes()) =>
            {
                Ok(principal.clone())
            }
            _ => Err(Error::Unauthenticated("invalid username or password".into())),
        }
    }
}

/// Trusts a reverse proxy's headers (`REMOTE_USER` and an optional groups header), as MLiy
/// did behind Apache — but only when built with [`HeaderAuth::trusting_proxy`].
#[derive(Debug, Clone)]
pub struct HeaderAuth {
    user_header: String,
    groups_header: Option<String>,
    admin_group: Option<String>,
}

impl HeaderAuth {
    /// Trusts `user_header` (e.g. `REMOTE_USER`) from a proxy that authenticates every
    /// request and strips these headers from clients. Groups are `;`-separated.
    pub fn trusting_proxy(user_header: impl Into<String>) -> Self {
        HeaderAuth { user_header: user_header.into().to_ascii_lowercase(), groups_header: None, admin_group: None }
    }

    /// Reads groups from this header.
    pub fn with_groups_header(mut self, header: impl Into<String>) -> Self {
        self.groups_header = Some(header.into().to_ascii_lowercase());
        self
    }

    /// Members of this group (compared as a DN) are admins.
    pub fn with_admin_group(mut self, group: impl Into<String>) -> Self {
        self.admin_group = Some(group.into());
        self
    }
}

#[async_trait]
impl AuthProvider for HeaderAuth {
    async fn authenticate(&self, credentials: &Credentials) -> Result<Principal> {
        let Credentials::Headers(headers) = credentials else {
            return Err(Error::Unauthenticated("HeaderAuth takes proxy headers".into()));
        };
        let get = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());
        let user = get(&self.user_header)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Error::Unauthenticated(format!("no {} header from the proxy", self.user_header)))?;
        let groups: Vec<String> = self
            .groups_header
            .as_deref()
            .and_then(get)
            .map(|g| g.split(';').map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect())
            .unwrap_or_default();
        let admin = self.admin_group.as_deref().is_some_and(|admin| {
            let admin = crate::model::normalize_dn(admin);
            groups.iter().any(|g| crate::model::normalize_dn(g) == admin)
        });
        Ok(Principal { admin, ..Principal::new(user, groups) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_auth() {
        let auth = StaticAuth::new().with_user(Principal::new("alice", ["ds"]), "pw");
        let creds = |u: &str, p: &str| Credentials::Password { username: u.into(), password: Secret::new(p) };
        assert_eq!(auth.authenticate(&creds("alice", "pw")).await.unwrap().username, "alice");
        for (u, p) in [("alice", "bad"), ("alice", ""), ("bob", "pw")] {
            assert!(matches!(auth.authenticate(&creds(u, p)).await, Err(Error::Unauthenticated(_))));
        }
        assert!(!format!("{:?}", creds("alice", "pw")).contains("pw\""));
    }

    #[tokio::test]
    async fn header_auth() {
        let auth =
            HeaderAuth::trusting_proxy("REMOTE_USER").with_groups_header("X-Groups").with_admin_group("cn=admins,dc=x");
        let h = |pairs: &[(&str, &str)]| {
            Credentials::Headers(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
        };
        let p = auth
            .authenticate(&h(&[("remote_user", "bob"), ("x-groups", "cn=DS,dc=x; CN=Admins, DC=x")]))
            .await
            .unwrap();
        assert_eq!((p.username.as_str(), p.groups.len(), p.admin), ("bob", 2, true));
        let p = auth.authenticate(&h(&[("REMOTE_USER", "eve"), ("X-Groups", "cn=admins-archive,dc=x")])).await.unwrap();
        assert!(!p.admin);
        assert!(auth.authenticate(&h(&[("X-Groups", "cn=admins,dc=x")])).await.is_err());
        assert!(auth.authenticate(&h(&[("REMOTE_USER", " ")])).await.is_err());
    }
}
