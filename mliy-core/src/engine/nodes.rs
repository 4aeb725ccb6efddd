//! What a cluster runs, for its bill: lots of nodes of one type bought one way, from its
//! RunJobFlow request (instance groups or fleets) or its template's parameters.

use crate::lifecycle::Resource;
use crate::model::emr::{InstanceFleet, MarketType};
use crate::pricing::Decimal;

/// The most a spot node may cost per hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Cap {
    /// No bid: the on-demand price (EMR's cap).
    OnDemand,
    /// A bid in dollars per hour.
    Price(Decimal),
    /// A bid as a percentage of the on-demand price.
    Percent(Decimal),
}

impl Cap {
    /// The cap for a type whose on-demand price is `on_demand`.
    pub(super) fn of(self, on_demand: Decimal) -> Decimal {
        match self {
            Cap::OnDemand => on_demand,
            Cap::Price(p) => p.min(on_demand),
            Cap::Percent(pct) => (on_demand * pct / Decimal::from(100)).min(on_demand),
        }
    }
}

/// Nodes of one type, on demand (`spot: None`) or spot with a cap.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Lot {
    pub(super) instance_type: String,
    pub(super) count: u32,
    pub(super) spot: Option<Cap>,
}

/// A cluster's lots. A fleet is counted in nodes of its first type (its capacity over that
/// type's weight, rounded up): what EMR picks among the types is known only from the cloud.
pub(super) fn lots(r: &Resource) -> Vec<Lot> {
    let Some(spec) = &r.job_flow else { return template_lots(r) };
    let groups = spec.instances.instance_groups.iter().map(|g| Lot {
        instance_type: g.instance_type.clone(),
        count: g.instance_count,
        spot: (g.market == Some(MarketType::Spot)).then(|| price_cap(g.bid_price.as_deref())),
    });
    groups.chain(spec.instances.instance_fleets.iter().flat_map(fleet_lots)).filter(|l| l.count > 0).collect()
}

fn price_cap(bid: Option<&str>) -> Cap {
    bid.and_then(|b| b.trim().parse().ok()).filter(|b: &Decimal| *b > Decimal::ZERO).map_or(Cap::OnDemand, Cap::Price)
}

fn fleet_lots(f: &InstanceFleet) -> Vec<Lot> {
    let Some(first) = f.instance_type_configs.first() else { return Vec::new() };
    let weight = first.weighted_capacity.unwrap_or(1).max(1);
    let nodes = |units: Option<u32>| units.unwrap_or(0).div_ceil(weight);
    let cap = match (&first.bid_price, first.bid_price_as_percentage_of_on_demand_price) {
        (Some(price), _) => price_cap(Some(price)),
        (None, Some(pct)) => Decimal::try_from(pct).map_or(Cap::OnDemand, Cap::Percent),
        (None, None) => Cap::OnDemand,
    };
    let ty = first.instance_type.clone();
    vec![
        Lot { instance_type: ty.clone(), count: nodes(f.target_on_demand_capacity), spot: None },
        Lot { instance_type: ty, count: nodes(f.target_spot_capacity), spot: Some(cap) },
    ]
}

/// MLiy's template: a master, `paramCoreInstanceCount` and `paramTaskInstanceCount` nodes of
/// `paramInstanceType` (the resource's type), on `paramMarketType` at `paramBidPrice`.
fn template_lots(r: &Resource) -> Vec<Lot> {
    let param = |k: &str| r.stack.parameters.iter().find(|x| x.key == k).map(|x| &*x.value);
    let count = |k: &str| param(k).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    let spot = (param("paramMarketType") == Some("SPOT")).then(|| price_cap(param("paramBidPrice")));
    let nodes = 1 + count("paramCoreInstanceCount") + count("paramTaskInstanceCount");
    vec![Lot { instance_type: r.instance_type.clone(), count: nodes, spot }]
}
