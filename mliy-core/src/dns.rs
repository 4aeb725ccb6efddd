//! DNS names for launched resources. `Route53Dns` and `RestDns` live in `mliy-plugins`.

use crate::error::Result;
use async_trait::async_trait;
use std::fmt::Debug;

/// Registers names for resources.
///
/// # Contract
/// `upsert` and `delete` are idempotent. A failure never fails a launch: the engine records
/// it and tries again later.
///
/// # Errors
/// Retryable errors when the DNS service is unavailable.
#[async_trait]
pub trait DnsProvider: Debug + Send + Sync + 'static {
    /// The name to show for a resource (MLiy: `mliy-<id>.<domain>`), or `None` for no DNS.
    fn display_name(&self, resource_id: &str, ip: &str) -> Option<String>;
    /// Creates or updates `name → ip`.
    async fn upsert(&self, name: &str, ip: &str) -> Result<()>;
    /// Removes `name → ip`.
    async fn delete(&self, name: &str, ip: &str) -> Result<()>;
}

/// No DNS: resources are reached by IP.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDns;

#[async_trait]
impl DnsProvider for NoDns {
    fn display_name(&self, _resource_id: &str, _ip: &str) -> Option<String> {
        None
    }

    async fn upsert(&self, _name: &str, _ip: &str) -> Result<()> {
        Ok(())
    }

    async fn delete(&self, _name: &str, _ip: &str) -> Result<()> {
        Ok(())
    }
}
