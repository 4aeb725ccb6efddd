//! The authentication provider a config names.

use crate::config::{AuthConfig, DeploymentConfig};
use mliy_core::auth::{AuthProvider, HeaderAuth, IpNet, StaticAuth};
use mliy_core::error::Result;
use mliy_core::model::Principal;
#[cfg(feature = "ldap")]
use std::path::Path;
use std::sync::Arc;
#[cfg(feature = "ldap")]
use std::time::Duration;

/// Authentication, when the config has an `auth` section.
///
/// # Errors
/// [`missing_feature`]; a password that cannot be read; settings the plugin refuses.
pub fn auth(config: &DeploymentConfig) -> Result<Option<Arc<dyn AuthProvider>>> {
    let Some(auth) = &config.auth else { return Ok(None) };
    let provider: Arc<dyn AuthProvider> = match auth {
        AuthConfig::Static(s) => {
            let mut auth = StaticAuth::new();
            for (i, u) in s.users.iter().enumerate() {
                let password = u.password.resolve(&format!("auth.static.users[{i}].password"), &config.base)?;
                let principal = Principal {
                    display_name: u.display_name.clone(),
                    email: u.email.clone(),
                    admin: u.admin,
                    ..Principal::new(&u.username, &u.groups)
                };
                auth = auth.with_user(principal, password.expose());
            }
            Arc::new(auth)
        }
        AuthConfig::Header(h) => {
            let mut auth = HeaderAuth::trusting_proxy(&h.user);
            if let Some(groups) = &h.groups {
                auth = auth.with_groups_header(groups);
            }
            if let Some(admin) = &h.admin_group {
                auth = auth.with_admin_group(admin);
            }
            let nets = h.trusted_proxies.iter().map(|p| IpNet::parse(p)).collect::<Result<Vec<_>>>()?;
            Arc::new(auth.with_trusted_proxies(nets))
        }
        #[cfg(feature = "ldap")]
        AuthConfig::Ldap(l) => Arc::new(ldap_auth(l, &config.base)?),
        #[cfg(not(feature = "ldap"))]
        AuthConfig::Ldap(_) => return Err(super::missing_feature("auth.ldap", "ldap")),
    };
    Ok(Some(provider))
}

/// An `auth: {ldap: …}` section as an [`LdapAuth`](crate::plugins::ldap::LdapAuth)
/// (paths relative to `base`).
///
/// # Errors
/// A password that cannot be read; settings `LdapAuth` refuses.
#[cfg(feature = "ldap")]
pub fn ldap_auth(l: &crate::config::LdapSection, base: &Path) -> Result<crate::plugins::ldap::LdapAuth> {
    use crate::plugins::ldap::{DirectoryKind, LdapAuth};
    let kind = if l.mode == "ad" { DirectoryKind::ActiveDirectory } else { DirectoryKind::OpenLdap };
    let password = l.bind_password.resolve("auth.ldap.bind_password", base)?;
    let mut b = LdapAuth::builder(&l.url, kind).base_dn(&l.base_dn).bind(&l.bind_dn, password).starttls(l.starttls);
    if let Some(attr) = &l.user_attribute {
        b = b.user_attribute(attr);
    }
    if let Some(group) = &l.admin_group {
        b = b.admin_group(group);
    }
    if let Some(ca) = &l.ca_file {
        b = b.ca_file(if ca.is_absolute() { ca.clone() } else { base.join(ca) });
    }
    if !l.tls_verify {
        b = b.danger_disable_tls_verification();
    }
    let (connect, op) = (l.connect_timeout.unwrap_or(Duration::from_secs(5)), l.operation_timeout);
    b = b.timeouts(connect, op.unwrap_or(Duration::from_secs(10)));
    b.build()
}
