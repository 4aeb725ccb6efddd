//! The one place billing follows the lifecycle: a running segment while a machine runs, a
//! stopped one (its volumes) while an instance is stopped, none otherwise; each priced from
//! the engine's [`Pricing`](crate::pricing::Pricing) when it has one.

use super::Shared;
use crate::error::Result;
use crate::lifecycle::{Phase, Resource, ResourceKind};
use crate::model::{BillState, BillingSegment};
use crate::pricing::{Decimal, LINUX, Pricing};

/// What the resource is billed for in this phase: running from the end of provisioning until
/// a stop or termination begins; an instance's volumes from then until it runs again.
pub(super) fn bill_state(r: &Resource) -> Option<BillState> {
    match (&r.phase, r.kind) {
        (Phase::Bootstrapping { .. } | Phase::Ready | Phase::Rebooting | Phase::Running | Phase::Waiting, _) => {
            Some(BillState::Running)
        }
        (Phase::Stopping | Phase::Stopped | Phase::Starting, ResourceKind::Instance) => Some(BillState::Stopped),
        _ => None,
    }
}

impl Shared {
    /// Makes the billing match the phase: the open segment closes when the state it bills
    /// ends, and the next one opens. Idempotent (the store keeps one open segment per
    /// resource), so the driver and refresh may both call it, and after a crash.
    pub(crate) async fn settle_bill(&self, r: &Resource) -> Result<()> {
        let want = bill_state(r);
        let open = self.store.billing(Some(&r.id)).await?.into_iter().find(|s| s.end.is_none());
        match (open, want) {
            (Some(s), Some(w)) if s.state == w => Ok(()),
            (open, Some(w)) => {
                if open.is_some() {
                    self.close_bill(r).await?;
                }
                self.open_bill(r, w).await
            }
            (Some(_), None) => self.close_bill(r).await,
            (None, None) => Ok(()),
        }
    }

    async fn open_bill(&self, r: &Resource, state: BillState) -> Result<()> {
        let (hourly, description) = match &self.pricing {
            Some(p) => rate(p, r, state),
            None => (None, r.instance_type.clone()),
        };
        let segment =
            BillingSegment { resource: r.id.clone(), state, hourly, description, start: self.clock.now(), end: None };
        self.store.open_billing(&segment).await
    }

    async fn close_bill(&self, r: &Resource) -> Result<()> {
        self.store.close_billing(&r.id, self.clock.now()).await.map(|_| ())
    }
}

/// The hourly price of `r` in `state`, and what it is for; no price when the source lacks
/// one (logged: a bill without a price is never a bill of 0).
fn rate(p: &Pricing, r: &Resource, state: BillState) -> (Option<Decimal>, String) {
    let param = |k: &str| r.stack.parameters.iter().find(|x| x.key == k).and_then(|x| x.value.parse::<u32>().ok());
    let gib = param("VolumeSize").unwrap_or(0);
    let (machine, what) = match (state, r.kind) {
        (BillState::Stopped, _) => (Ok(Decimal::ZERO), format!("{gib} GB of EBS")),
        (BillState::Running, ResourceKind::Instance) => {
            (p.source.on_demand(&p.region, &r.instance_type, LINUX), format!("{} + {gib} GB of EBS", r.instance_type))
        }
        (BillState::Running, ResourceKind::Cluster) => {
            let nodes = match &r.job_flow {
                Some(spec) => 1 + spec.core_nodes + spec.task_nodes,
                None => 1 + param("paramCoreInstanceCount").unwrap_or(0) + param("paramTaskInstanceCount").unwrap_or(0),
            };
            let node = p
                .source
                .on_demand(&p.region, &r.instance_type, LINUX)
                .and_then(|ec2| Ok(ec2 + p.source.emr(&p.region, &r.instance_type)?));
            (node.map(|n| n * Decimal::from(nodes)), format!("(EC2 + EMR) {} × {nodes}", r.instance_type))
        }
    };
    match machine {
        Ok(m) => (Some(p.discounted(m + p.volumes_hourly(gib))), what),
        Err(e) => {
            tracing::warn!(target: "mliy::billing", id = %r.id, error = %e, "no price: the segment is unpriced");
            (None, format!("{what} (no price: {e})"))
        }
    }
}
