//! DNS names for launched resources: the [`DnsProvider`] trait, [`NoDns`] and the in-memory
//! [`MemoryDns`]. `Route53Dns` and `RestDns` live in `mliy-plugins`.

use crate::error::{Error, Result};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Registers names for resources.
///
/// # Contract
/// `upsert` and `delete` are idempotent: an upsert of a name that exists moves it to the new
/// address, a delete of a name that is not there succeeds. A failure never fails a launch:
/// the engine records it and tries again later. `mliy_core::testkit::dns` checks this.
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

/// Records in memory, named `mliy-<id>.<domain>`: for tests and demos. While
/// [`set_down`](MemoryDns::set_down) holds, every change fails as an unavailable service would.
#[derive(Debug)]
pub struct MemoryDns {
    domain: String,
    records: Mutex<BTreeMap<String, String>>,
    down: AtomicBool,
}

impl MemoryDns {
    /// An empty zone for `domain`.
    pub fn new(domain: impl Into<String>) -> Self {
        MemoryDns { domain: domain.into(), records: Mutex::new(BTreeMap::new()), down: AtomicBool::new(false) }
    }

    /// Makes every change fail (`true`) or work again (`false`).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The address `name` points at, if any.
    pub fn resolve(&self, name: &str) -> Option<String> {
        self.lock().get(name).cloned()
    }

    /// Every record: name → address.
    pub fn records(&self) -> BTreeMap<String, String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_up(&self, what: &str, name: &str) -> Result<()> {
        match self.down.load(Ordering::SeqCst) {
            true => Err(Error::Unavailable(format!("DNS {what} of {name}: the service is down"))),
            false => Ok(()),
        }
    }
}

#[async_trait]
impl DnsProvider for MemoryDns {
    fn display_name(&self, resource_id: &str, _ip: &str) -> Option<String> {
        Some(format!("mliy-{resource_id}.{}", self.domain))
    }

    async fn upsert(&self, name: &str, ip: &str) -> Result<()> {
        self.check_up("upsert", name)?;
        self.lock().insert(name.to_string(), ip.to_string());
        Ok(())
    }

    async fn delete(&self, name: &str, _ip: &str) -> Result<()> {
        self.check_up("delete", name)?;
        self.lock().remove(name);
        Ok(())
    }
}
