//! The one place billing follows the lifecycle: a running segment while a machine runs, a
//! stopped one (its volumes) while an instance is stopped, none otherwise; each priced from
//! the engine's [`Pricing`](crate::pricing::Pricing) when it has one.

use super::Shared;
use crate::clock::Timestamp;
use crate::error::Result;
use crate::lifecycle::{Phase, Resource, ResourceKind};
use crate::model::{BillState, BillingSegment, Market};
use crate::pricing::{Decimal, LINUX, Pricing};

/// What the resource is billed for in this phase: running from the end of provisioning until
/// a stop or termination begins; an instance's volumes from then until it runs again.
pub(super) fn bill_state(r: &Resource) -> Option<BillState> {
    state_of(&r.phase, r.kind)
}

fn state_of(phase: &Phase, kind: ResourceKind) -> Option<BillState> {
    match (phase, kind) {
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
    /// resource), so the driver and refresh may both call it, and after a crash. One caller
    /// at a time per resource (a store lease), deciding on the record as stored, so a caller
    /// holding an older copy never bills a state the resource has left.
    pub(crate) async fn settle_bill(&self, r: &Resource) -> Result<()> {
        // Most calls find the bill right: one read, no lease.
        let open = self.store.billing(Some(&r.id)).await?.into_iter().find(|s| s.end.is_none());
        if open.map(|s| s.state) == bill_state(r) {
            return Ok(());
        }
        let lease = format!("bill:{}", r.id);
        let holder = crate::model::LaunchId::new_random().to_string();
        self.wait_for_lease(&lease, &holder, || format!("the bill of {} is being settled", r.id)).await?;
        let settled = match self.store.get_resource(&r.id).await {
            Ok(current) => self.settle_as_stored(current.as_ref().unwrap_or(r)).await,
            Err(e) => Err(e),
        };
        let _ = self.store.release_lease(&lease, &holder).await;
        settled
    }

    async fn settle_as_stored(&self, r: &Resource) -> Result<()> {
        let want = bill_state(r);
        let open = self.store.billing(Some(&r.id)).await?.into_iter().find(|s| s.end.is_none());
        if open.as_ref().map(|s| s.state) == want {
            return Ok(());
        }
        let at = self.state_since(r).await?;
        if open.is_some() {
            self.store.close_billing(&r.id, at).await?;
        }
        match want {
            Some(state) => self.open_bill(r, state, at).await,
            None => Ok(()),
        }
    }

    /// When the resource entered the bill state it is in, by its events: a bill settled late
    /// (the process died between the transition and the bill) still changes at that moment.
    async fn state_since(&self, r: &Resource) -> Result<Timestamp> {
        let want = bill_state(r);
        let mut since = self.clock.now();
        for e in self.store.events(&r.id).await?.iter().rev() {
            if state_of(&e.to, r.kind) != want {
                break;
            }
            since = since.min(e.at);
        }
        Ok(since)
    }

    async fn open_bill(&self, r: &Resource, state: BillState, start: Timestamp) -> Result<()> {
        let (hourly, description) = match &self.pricing {
            Some(p) => rate(p, r, state, self.spot_market(r, state).await),
            None => (None, r.instance_type.clone()),
        };
        let segment = BillingSegment { resource: r.id.clone(), state, hourly, description, start, end: None };
        self.store.open_billing(&segment).await
    }
}

impl Shared {
    /// The spot market's price of a spot resource's nodes while they run (DescribeSpotPriceHistory),
    /// or `None`: on demand, not running, or the cloud has no price (then the bid, or the
    /// on-demand price EMR caps spot at, bills it).
    async fn spot_market(&self, r: &Resource, state: BillState) -> Option<Decimal> {
        if state != BillState::Running || spot_bid(r).is_none() {
            return None;
        }
        match self.cloud.spot_price(&r.instance_type, None).await {
            Ok(price) => price,
            Err(e) => {
                tracing::warn!(target: "mliy::billing", id = %r.id, error = %e, "no spot price: billed at the bid");
                None
            }
        }
    }
}

/// A spot resource's bid: `Some(Some(bid))`, `Some(None)` for spot without a bid (capped at
/// the on-demand price), `None` on demand.
pub(super) fn spot_bid(r: &Resource) -> Option<Option<Decimal>> {
    let param = |k: &str| r.stack.parameters.iter().find(|x| x.key == k).map(|x| x.value.as_str());
    match &r.job_flow {
        Some(spec) => match spec.market {
            Market::OnDemand => None,
            Market::Spot { bid } => Some(bid.and_then(|b| b.to_string().parse().ok())),
        },
        None if r.kind == ResourceKind::Cluster && param("paramMarketType") == Some("SPOT") => {
            Some(param("paramBidPrice").and_then(|b| b.parse().ok()).filter(|b: &Decimal| *b > Decimal::ZERO))
        }
        None => None,
    }
}

/// What one node's EC2 capacity costs per hour: on demand, or for spot the market price
/// (`spot`, when known) capped by the bid and by the on-demand price (EMR's cap).
fn node_ec2(on_demand: Decimal, bid: Option<Option<Decimal>>, spot: Option<Decimal>) -> Decimal {
    match bid {
        None => on_demand,
        Some(bid) => [Some(on_demand), bid, spot].into_iter().flatten().min().unwrap_or(on_demand),
    }
}

/// The hourly price of `r` in `state`, and what it is for; no price when the source lacks
/// one (logged: a bill without a price is never a bill of 0). `spot` is the market's price of a
/// spot resource's nodes; without it a spot node is priced at its bid (at most on demand), the
/// most it can cost, which is what quotas count.
pub(super) fn rate(p: &Pricing, r: &Resource, state: BillState, spot: Option<Decimal>) -> (Option<Decimal>, String) {
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
            let bid = spot_bid(r);
            let node = p
                .source
                .on_demand(&p.region, &r.instance_type, LINUX)
                .and_then(|ec2| Ok(node_ec2(ec2, bid, spot) + p.source.emr(&p.region, &r.instance_type)?));
            let ec2 = if bid.is_some() { "EC2 spot" } else { "EC2" };
            (node.map(|n| n * Decimal::from(nodes)), format!("({ec2} + EMR) {} × {nodes}", r.instance_type))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spot_node_costs_the_least_of_market_bid_and_on_demand() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let on_demand = d("0.192");
        assert_eq!(node_ec2(on_demand, None, Some(d("0.05"))), on_demand, "on demand ignores the market");
        assert_eq!(node_ec2(on_demand, Some(None), None), on_demand, "no bid, no price: capped at on demand");
        assert_eq!(node_ec2(on_demand, Some(Some(d("0.1"))), None), d("0.1"), "no price: the bid");
        assert_eq!(node_ec2(on_demand, Some(Some(d("0.1"))), Some(d("0.0412"))), d("0.0412"));
        assert_eq!(node_ec2(on_demand, Some(None), Some(d("0.3"))), on_demand, "the market above on demand");
    }
}
