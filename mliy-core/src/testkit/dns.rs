//! The [`DnsProvider`] conformance suite.
//!
//! A provider only writes, so the suite reads what it registered through a [`DnsLookup`]:
//! the zone itself (Route53 listed with boto3, a REST API's records, `MemoryDns`).

use crate::dns::{DnsProvider, MemoryDns};
use async_trait::async_trait;

/// How the suite sees the zone a provider writes to.
#[async_trait]
pub trait DnsLookup: Send + Sync {
    /// The address `name` points at, or `None` when there is no record.
    async fn resolve(&self, name: &str) -> Option<String>;
}

#[async_trait]
impl DnsLookup for MemoryDns {
    async fn resolve(&self, name: &str) -> Option<String> {
        MemoryDns::resolve(self, name)
    }
}

/// Runs every check with resource ids `conf-dns-*`. A provider whose `display_name` is
/// `None` (no DNS) must still accept every change.
pub async fn run_all(dns: &dyn DnsProvider, zone: &dyn DnsLookup) {
    let Some(name) = dns.display_name("conf-dns-1", "10.0.0.5") else {
        dns.upsert("conf-dns-1", "10.0.0.5").await.unwrap();
        dns.delete("conf-dns-1", "10.0.0.5").await.unwrap();
        return;
    };
    names_carry_the_resource_id(dns, &name);
    upsert_is_idempotent_and_moves(dns, zone, &name).await;
    delete_is_idempotent(dns, zone, &name).await;
    names_are_independent(dns, zone).await;
}

pub fn names_carry_the_resource_id(dns: &dyn DnsProvider, name: &str) {
    assert!(name.contains("conf-dns-1"), "{name}");
    let other = dns.display_name("conf-dns-2", "10.0.0.5").unwrap();
    assert_ne!(name, other, "two resources, two names");
    assert_eq!(dns.display_name("conf-dns-1", "10.9.9.9").as_deref(), Some(name), "the name does not follow the IP");
}

pub async fn upsert_is_idempotent_and_moves(dns: &dyn DnsProvider, zone: &dyn DnsLookup, name: &str) {
    dns.upsert(name, "10.0.0.5").await.unwrap();
    assert_eq!(zone.resolve(name).await.as_deref(), Some("10.0.0.5"));
    dns.upsert(name, "10.0.0.5").await.unwrap();
    assert_eq!(zone.resolve(name).await.as_deref(), Some("10.0.0.5"), "a second upsert changes nothing");
    dns.upsert(name, "10.0.0.6").await.unwrap();
    assert_eq!(zone.resolve(name).await.as_deref(), Some("10.0.0.6"), "an upsert moves the name");
}

pub async fn delete_is_idempotent(dns: &dyn DnsProvider, zone: &dyn DnsLookup, name: &str) {
    dns.delete(name, "10.0.0.6").await.unwrap();
    assert_eq!(zone.resolve(name).await, None);
    dns.delete(name, "10.0.0.6").await.unwrap();
    let never = dns.display_name("conf-dns-never", "10.0.0.8").unwrap();
    dns.delete(&never, "10.0.0.8").await.unwrap();
}

pub async fn names_are_independent(dns: &dyn DnsProvider, zone: &dyn DnsLookup) {
    let a = dns.display_name("conf-dns-3", "10.0.1.1").unwrap();
    let b = dns.display_name("conf-dns-4", "10.0.1.2").unwrap();
    dns.upsert(&a, "10.0.1.1").await.unwrap();
    dns.upsert(&b, "10.0.1.2").await.unwrap();
    dns.delete(&a, "10.0.1.1").await.unwrap();
    assert_eq!(zone.resolve(&a).await, None);
    assert_eq!(zone.resolve(&b).await.as_deref(), Some("10.0.1.2"), "deleting one name leaves the other");
    dns.delete(&b, "10.0.1.2").await.unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::NoDns;

    #[tokio::test]
    async fn memory_dns_and_no_dns_conform() {
        let dns = MemoryDns::new("example.test");
        run_all(&dns, &dns).await;
        assert!(dns.records().is_empty());
        run_all(&NoDns, &dns).await;
        dns.set_down(true);
        let e = dns.upsert("mliy-x.example.test", "10.0.0.1").await.unwrap_err();
        assert_eq!(e.kind(), "unavailable");
    }
}
