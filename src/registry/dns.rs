//! The DNS provider a config names.

use crate::config::{DeploymentConfig, DnsConfig};
use mliy_core::dns::{DnsProvider, NoDns};
#[cfg(feature = "route53")]
use mliy_core::error::Error;
use mliy_core::error::Result;
#[cfg(feature = "dns-api")]
use std::path::Path;
use std::sync::Arc;

/// DNS.
///
/// # Errors
/// [`missing_feature`]; an API key that cannot be read; settings the plugin refuses.
pub async fn dns(config: &DeploymentConfig) -> Result<Arc<dyn DnsProvider>> {
    match &config.dns {
        DnsConfig::None => Ok(Arc::new(NoDns)),
        #[cfg(feature = "route53")]
        DnsConfig::Route53(r53) => {
            let crate::config::CloudConfig::Aws(aws) = &config.cloud else {
                return Err(Error::validation("dns.route53", "given", "Route53 uses the `cloud: {aws}` connection"));
            };
            let mut dns =
                crate::plugins::route53::Route53Dns::connect(super::cloud::aws_options(aws), &r53.domain).await?;
            if let Some(prefix) = &r53.prefix {
                dns = dns.name_prefix(prefix);
            }
            if let Some(ttl) = r53.ttl {
                dns = dns.ttl(ttl);
            }
            Ok(Arc::new(dns))
        }
        #[cfg(not(feature = "route53"))]
        DnsConfig::Route53(_) => Err(super::missing_feature("dns.route53", "route53")),
        #[cfg(feature = "dns-api")]
        DnsConfig::Rest(rest) => rest_dns(rest, &config.base),
        #[cfg(not(feature = "dns-api"))]
        DnsConfig::Rest(_) => Err(super::missing_feature("dns.rest", "dns-api")),
    }
}

#[cfg(feature = "dns-api")]
fn rest_dns(rest: &crate::config::RestSection, base: &Path) -> Result<Arc<dyn DnsProvider>> {
    use crate::plugins::rest_dns::{Payload, RestDns};
    let mut b = RestDns::builder(&rest.url, &rest.domain);
    if let Some(prefix) = &rest.prefix {
        b = b.name_prefix(prefix);
    }
    for (k, v) in &rest.data {
        b = b.data(k, v);
    }
    if let Some(key) = &rest.api_key {
        b = b.api_key(&key.header, key.value.resolve("dns.rest.api_key.value", base)?);
    }
    if rest.payload.as_deref() == Some("form") {
        b = b.payload(Payload::Form);
    }
    if let Some(t) = rest.timeout {
        b = b.timeout(t);
    }
    if rest.allow_plain_http {
        b = b.allow_plain_http();
    }
    Ok(Arc::new(b.build()?))
}
