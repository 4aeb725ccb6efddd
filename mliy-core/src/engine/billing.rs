//! The one place billing follows the lifecycle: a running segment while a machine runs, a
//! stopped one (its volumes) while an instance is stopped, none otherwise; each priced from
//! the engine's [`Pricing`](crate::pricing::Pricing) when it has one.

use super::Shared;
use super::nodes::{Cap, lots};
use crate::clock::Timestamp;
use crate::error::Result;
use crate::lifecycle::{Phase, Resource, ResourceKind};
use crate::model::{BillState, BillingSegment};
use crate::pricing::{Decimal, LINUX, Pricing};
use crate::store::BillingSettlement;
use std::collections::BTreeMap;

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

/// How many times a settlement is decided again when another writer moved the record on.
const SETTLE_ATTEMPTS: usize = 8;

impl Shared {
    /// Makes the billing match the phase: the open segment closes when the state it bills
    /// ends, and the next one opens. Idempotent, so the driver and refresh may both call it,
    /// and after a crash. Decided on the record as stored and written with
    /// [`StateStore::settle_billing`](crate::store::StateStore::settle_billing), which applies
    /// only while that record and its bill are unchanged: a caller holding an older copy never
    /// bills a state the resource has left, and no lease is needed.
    pub(crate) async fn settle_bill(&self, r: &Resource) -> Result<()> {
        // Most calls find the bill right: one read.
        if self.open_bill_state(&r.id).await? == bill_state(r) {
            return Ok(());
        }
        self.settle_retrying(r, false).await
    }

    /// Closes the open running segment now and opens one at the resource's new price (a
    /// resized cluster).
    pub(crate) async fn reprice_bill(&self, r: &Resource) -> Result<()> {
        self.settle_retrying(r, true).await
    }

    async fn open_bill_state(&self, id: &crate::model::LaunchId) -> Result<Option<BillState>> {
        Ok(self.store.billing(Some(id)).await?.into_iter().find(|s| s.end.is_none()).map(|s| s.state))
    }

    /// Settles on the stored record, deciding again (a few times) when it moves on meanwhile.
    async fn settle_retrying(&self, r: &Resource, reprice: bool) -> Result<()> {
        let mut attempt = 0;
        loop {
            let Some(stored) = self.store.get_resource(&r.id).await? else { return Ok(()) };
            match self.settle_as_stored(&stored, reprice).await {
                Err(crate::Error::Stale(_)) if attempt + 1 < SETTLE_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    async fn settle_as_stored(&self, r: &Resource, reprice: bool) -> Result<()> {
        let want = bill_state(r);
        let open = self.open_bill_state(&r.id).await?;
        let repriced = reprice && open == Some(BillState::Running) && want == open;
        if open == want && !repriced {
            return Ok(());
        }
        let at = if repriced { self.clock.now() } else { self.state_since(r).await? };
        let segment = match want {
            Some(state) => Some(self.new_bill(r, state, at).await),
            None => None,
        };
        let settlement = BillingSettlement {
            resource: r.id.clone(),
            version: r.version,
            expect_open: open,
            close_at: at,
            open: segment,
        };
        self.store.settle_billing(&settlement).await
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

    async fn new_bill(&self, r: &Resource, state: BillState, start: Timestamp) -> BillingSegment {
        let (hourly, description) = match &self.pricing {
            Some(p) => rate(p, r, state, &self.spot_market(r, state).await),
            None => (None, r.instance_type.clone()),
        };
        BillingSegment { resource: r.id.clone(), state, hourly, description, start, end: None }
    }
}

impl Shared {
    /// The spot market's prices of a running resource's spot types (DescribeSpotPriceHistory);
    /// a type the cloud has no price for is billed at its cap.
    async fn spot_market(&self, r: &Resource, state: BillState) -> BTreeMap<String, Decimal> {
        let mut prices = BTreeMap::new();
        if state != BillState::Running || r.kind != ResourceKind::Cluster {
            return prices;
        }
        for lot in lots(r).into_iter().filter(|l| l.spot.is_some()) {
            if prices.contains_key(&lot.instance_type) {
                continue;
            }
            match self.cloud.spot_price(&lot.instance_type, None).await {
                Ok(Some(price)) => {
                    prices.insert(lot.instance_type, price);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(target: "mliy::billing", id = %r.id, error = %e, "no spot price: billed at the bid")
                }
            }
        }
        prices
    }
}

/// What one node's EC2 capacity costs per hour: on demand, or for spot the market price
/// (when known) under its cap (the bid, at most the on-demand price).
fn node_ec2(on_demand: Decimal, spot: Option<Cap>, market: Option<Decimal>) -> Decimal {
    match spot {
        None => on_demand,
        Some(cap) => market.map_or(cap.of(on_demand), |m| m.min(cap.of(on_demand))),
    }
}

/// A cluster's hourly price: (EC2 + EMR) per node of each lot, and what it is for.
fn cluster_rate(p: &Pricing, r: &Resource, spot: &BTreeMap<String, Decimal>) -> (Result<Decimal>, String) {
    let mut total = Ok(Decimal::ZERO);
    let mut what = Vec::new();
    for lot in lots(r) {
        let ty = &lot.instance_type;
        let node = p
            .source
            .on_demand(&p.region, ty, LINUX)
            .and_then(|ec2| Ok(node_ec2(ec2, lot.spot, spot.get(ty).copied()) + p.source.emr(&p.region, ty)?));
        total = total.and_then(|t| Ok(t + node? * Decimal::from(lot.count)));
        what.push(format!("({} + EMR) {ty} × {}", if lot.spot.is_some() { "EC2 spot" } else { "EC2" }, lot.count));
    }
    (total, what.join(" + "))
}

/// The hourly price of `r` in `state`, and what it is for; no price when the source lacks
/// one (logged: a bill without a price is never a bill of 0). `spot` holds the market's price of a
/// spot resource's types; without one a spot node is priced at its cap (at most on demand), the
/// most it can cost, which is what quotas count.
pub(super) fn rate(
    p: &Pricing,
    r: &Resource,
    state: BillState,
    spot: &BTreeMap<String, Decimal>,
) -> (Option<Decimal>, String) {
    let param = |k: &str| r.stack.parameters.iter().find(|x| x.key == k).and_then(|x| x.value.parse::<u32>().ok());
    let gib = param("VolumeSize").unwrap_or(0);
    let (machine, what) = match (state, r.kind) {
        (BillState::Stopped, _) => (Ok(Decimal::ZERO), format!("{gib} GB of EBS")),
        (BillState::Running, ResourceKind::Instance) => {
            (p.source.on_demand(&p.region, &r.instance_type, LINUX), format!("{} + {gib} GB of EBS", r.instance_type))
        }
        (BillState::Running, ResourceKind::Cluster) => cluster_rate(p, r, spot),
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
    fn a_spot_node_costs_the_least_of_market_and_its_cap() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let on_demand = d("0.192");
        assert_eq!(node_ec2(on_demand, None, Some(d("0.05"))), on_demand, "on demand ignores the market");
        assert_eq!(node_ec2(on_demand, Some(Cap::OnDemand), None), on_demand, "no bid, no price: capped at on demand");
        assert_eq!(node_ec2(on_demand, Some(Cap::Price(d("0.1"))), None), d("0.1"), "no price: the bid");
        assert_eq!(node_ec2(on_demand, Some(Cap::Price(d("0.1"))), Some(d("0.0412"))), d("0.0412"));
        assert_eq!(node_ec2(on_demand, Some(Cap::OnDemand), Some(d("0.3"))), on_demand, "the market above on demand");
        assert_eq!(node_ec2(on_demand, Some(Cap::Percent(d("25"))), None), d("0.048"), "a bid as a percentage");
        assert_eq!(node_ec2(on_demand, Some(Cap::Price(d("5"))), None), on_demand, "a bid above on demand");
    }
}
