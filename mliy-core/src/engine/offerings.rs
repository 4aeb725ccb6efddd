//! What the caller may launch, with each instance type's hourly price.

use super::Engine;
use crate::error::Result;
use crate::model::Principal;
use crate::plan::Offering;
use crate::pricing::{Decimal, LINUX, Pricing};
use serde::Serialize;

/// An [`Offering`] with prices.
#[derive(Debug, Clone, Serialize)]
pub struct PricedOffering {
    /// What may be launched.
    #[serde(flatten)]
    pub offering: Offering,
    /// Each instance type's hourly price, in the offering's order.
    pub prices: Vec<TypePrice>,
}

/// The hourly price of one instance type in an offering.
#[derive(Debug, Clone, Serialize)]
pub struct TypePrice {
    /// The instance type.
    pub instance_type: String,
    /// Dollars an hour, discounted: an instance with its default volume, or one cluster
    /// node on demand with EMR's surcharge. `None` without pricing or without a price.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub hourly: Option<Decimal>,
}

impl Engine {
    /// What `principal` may launch (see [`crate::plan::offerings`]), priced.
    ///
    /// # Errors
    /// [`crate::Error::Unauthenticated`] for an anonymous principal; after shutdown.
    pub fn offerings(&self, principal: &Principal) -> Result<Vec<PricedOffering>> {
        self.inner.alive()?;
        super::access::authenticated(principal)?;
        let catalog = self.catalog();
        let pricing = self.inner.pricing.as_ref();
        let priced = |o: Offering| {
            let volume = catalog.software_config(&o.software_config).map_or(0, |s| s.volume.default_size);
            let prices = o
                .instance_types
                .iter()
                .map(|ty| TypePrice {
                    instance_type: ty.clone(),
                    hourly: pricing.and_then(|p| hourly(p, ty, o.kind == "cluster", volume)),
                })
                .collect();
            PricedOffering { offering: o, prices }
        };
        Ok(crate::plan::offerings(catalog, principal).into_iter().map(priced).collect())
    }
}

fn hourly(p: &Pricing, ty: &str, cluster: bool, volume_gib: u32) -> Option<Decimal> {
    let ec2 = p.source.on_demand(&p.region, ty, LINUX).ok()?;
    let extra = if cluster { p.source.emr(&p.region, ty).ok()? } else { p.volumes_hourly(volume_gib) };
    Some(p.discounted(ec2 + extra))
}
