//! The one place DNS follows the lifecycle: a resource with an address has its name, one that
//! is gone (or stopped, unless the config keeps it) has none. A DNS failure is recorded on
//! the resource, never fatal; the next refresh pass follows again.

use super::Shared;
use crate::error::Result;
use crate::lifecycle::{Actor, Phase, Resource, ResourceKind};

impl Shared {
    /// Whether `r` should have a DNS name now. A cluster gets its name once it is waiting
    /// for work and keeps it until it is gone.
    pub(super) fn wants_name(&self, r: &Resource) -> bool {
        if r.private_ip.is_none() || r.phase.is_terminal() {
            return false;
        }
        match r.kind {
            ResourceKind::Cluster => r.dns_name.is_some() || r.phase == Phase::Waiting,
            ResourceKind::Instance => r.phase != Phase::Stopped || self.config.keep_dns_when_stopped,
        }
    }

    /// Makes `r`'s DNS record match its phase and address; returns the stored record.
    /// `again` sends the record even when the name is registered: the machine came up
    /// (again), or its address moved.
    pub(crate) async fn follow_dns(&self, r: Resource, again: bool) -> Result<Resource> {
        match (self.wants_name(&r), r.dns_name.is_some()) {
            (true, false) => self.register_dns(r).await,
            (true, true) if again => self.register_dns(r).await,
            (false, true) => self.unregister_dns(r).await,
            _ => Ok(r),
        }
    }

    async fn register_dns(&self, r: Resource) -> Result<Resource> {
        let Some(ip) = r.private_ip.clone() else { return Ok(r) };
        let Some(name) = self.dns.display_name(r.id.as_str(), &ip) else { return Ok(r) };
        match self.dns.upsert(&name, &ip).await {
            Ok(()) => self.update(&r, |n| n.dns_name = Some(name)).await,
            Err(e) => {
                tracing::warn!(target: "mliy::dns", id = %r.id, error = %e, "DNS upsert failed");
                // Not known to be in place: a refresh pass tries again.
                self.note(&r, Actor::Engine, format!("DNS upsert of {name} failed: {e}"), |n| n.dns_name = None).await
            }
        }
    }

    async fn unregister_dns(&self, r: Resource) -> Result<Resource> {
        let (Some(name), Some(ip)) = (r.dns_name.clone(), r.private_ip.clone()) else { return Ok(r) };
        match self.dns.delete(&name, &ip).await {
            Ok(()) => self.update(&r, |n| n.dns_name = None).await,
            Err(e) => self.note(&r, Actor::Engine, format!("DNS delete of {name} failed: {e}"), |_| {}).await,
        }
    }
}
