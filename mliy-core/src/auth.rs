//! Authentication: who is calling. `LdapAuth` lives in `mliy-plugins` (feature `ldap`).

use crate::error::{Error, Result};
use crate::model::Principal;
use crate::secret::Secret;
use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt::Debug;
use std::net::IpAddr;

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
    /// Headers with the address of the peer that sent them, so that a [`HeaderAuth`] with
    /// [trusted proxies](HeaderAuth::with_trusted_proxies) can check it.
    Proxied {
        /// The TCP peer the request came from.
        peer: IpAddr,
        /// Its headers.
        headers: HashMap<String, String>,
    },
}

/// An address range (`10.0.0.0/8`, `::1/128`) or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the text when it is neither.
    pub fn parse(text: &str) -> Result<IpNet> {
        let bad = || Error::validation("trusted_proxies", text, "an address or range such as 10.0.0.0/8 or ::1");
        let (addr, prefix) = text.trim().split_once('/').map_or((text.trim(), None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
            let keep = if prefix == 0 { 0 } else { u128::MAX << (width - prefix) };
            bits & keep
        }
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), 32, self.prefix)
                    == masked(u128::from(u32::from(ip)), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix) == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
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
    trusted_proxies: Vec<IpNet>,
}

impl HeaderAuth {
    /// Trusts `user_header` (e.g. `REMOTE_USER`) from a proxy that authenticates every
    /// request and strips these headers from clients. Groups are `;`-separated.
    pub fn trusting_proxy(user_header: impl Into<String>) -> Self {
        HeaderAuth {
            user_header: user_header.into().to_ascii_lowercase(),
            groups_header: None,
            admin_group: None,
            trusted_proxies: Vec::new(),
        }
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

    /// Accepts headers only as [`Credentials::Proxied`] from a peer in one of these ranges
    /// (without it, any [`Credentials::Headers`] are believed).
    pub fn with_trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpNet>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// The headers, if they came from a peer this provider trusts.
    fn trusted<'a>(&self, credentials: &'a Credentials) -> Result<&'a HashMap<String, String>> {
        match credentials {
            Credentials::Headers(headers) if self.trusted_proxies.is_empty() => Ok(headers),
            Credentials::Headers(_) => {
                Err(Error::Unauthenticated("proxy headers without the peer's address are not trusted".into()))
            }
            Credentials::Proxied { peer, headers } => {
                if self.trusted_proxies.is_empty() || self.trusted_proxies.iter().any(|n| n.contains(*peer)) {
                    Ok(headers)
                } else {
                    Err(Error::Unauthenticated(format!("{peer} is not a trusted proxy")))
                }
            }
            Credentials::Password { .. } => Err(Error::Unauthenticated("HeaderAuth takes proxy headers".into())),
        }
    }
}

#[async_trait]
impl AuthProvider for HeaderAuth {
    async fn authenticate(&self, credentials: &Credentials) -> Result<Principal> {
        let headers = self.trusted(credentials)?;
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

    #[tokio::test]
    async fn header_auth_believes_only_trusted_proxies() {
        let nets = ["10.1.0.0/16", "::1"].map(|n| IpNet::parse(n).unwrap());
        let auth = HeaderAuth::trusting_proxy("REMOTE_USER").with_trusted_proxies(nets);
        let headers = HashMap::from([("REMOTE_USER".to_string(), "bob".to_string())]);
        let from = |peer: &str| Credentials::Proxied { peer: peer.parse().unwrap(), headers: headers.clone() };
        for ok in ["10.1.200.3", "::1"] {
            assert_eq!(auth.authenticate(&from(ok)).await.unwrap().username, "bob", "{ok}");
        }
        for refused in ["10.2.0.1", "127.0.0.1", "::2"] {
            assert!(matches!(auth.authenticate(&from(refused)).await, Err(Error::Unauthenticated(_))), "{refused}");
        }
        let bare = Credentials::Headers(headers.clone());
        assert!(matches!(auth.authenticate(&bare).await, Err(Error::Unauthenticated(_))));
        for bad in ["10.0.0.0/33", "nope", "::1/129", ""] {
            assert!(matches!(IpNet::parse(bad), Err(Error::Validation(_))), "{bad}");
        }
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains("192.0.2.1".parse().unwrap()));
    }
}
