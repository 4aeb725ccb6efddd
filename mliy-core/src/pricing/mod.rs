//! Prices: what an instance type costs per hour in a region, from the ec2instances.info
//! `instances.json` format, loaded once into an index ([`PriceIndex`]) and asked through a
//! small trait ([`PriceSource`]) so that other sources can stand in.
//!
//! Money is a [`Decimal`], never a float, and shows as the file writes it (`0.108`). An
//! unknown region, type or platform is an error, never a price of 0.

mod index;

pub use index::PriceIndex;
pub use rust_decimal::Decimal;

use crate::error::Result;

/// The platform MLiy and mliy launch on, as ec2instances.info names it.
pub const LINUX: &str = "linux";

/// Where prices come from.
pub trait PriceSource: Send + Sync + std::fmt::Debug {
    /// The on-demand hourly price of `instance_type` on `platform` (`linux`, `mswin`, `rhel`,
    /// …) in `region`.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) naming the region, the type or the
    /// platform the source does not price.
    fn on_demand(&self, region: &str, instance_type: &str, platform: &str) -> Result<Decimal>;

    /// EMR's hourly surcharge for `instance_type` in `region` (on top of its EC2 price).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) as for [`PriceSource::on_demand`].
    fn emr(&self, region: &str, instance_type: &str) -> Result<Decimal>;
}

/// What the engine bills with: a price source, the region it prices, the EBS price and a
/// discount (an enterprise agreement's, say).
#[derive(Debug, Clone)]
pub struct Pricing {
    /// Where prices come from.
    pub source: std::sync::Arc<dyn PriceSource>,
    /// The region launches run in.
    pub region: String,
    /// Dollars per GB-month of the instances' EBS volumes (gp3 in us-east-1: `0.08`).
    pub ebs_gb_month: Decimal,
    /// The share taken off every price (`0.1` for 10%), from 0 to 1.
    pub discount: Decimal,
}

/// Hours in AWS's billing month (EBS is priced per GB-month).
pub const HOURS_PER_MONTH: u32 = 730;

impl Pricing {
    /// A source for `region` with gp3's EBS price and no discount.
    pub fn new(source: std::sync::Arc<dyn PriceSource>, region: impl Into<String>) -> Pricing {
        Pricing { source, region: region.into(), ebs_gb_month: Decimal::new(8, 2), discount: Decimal::ZERO }
    }

    /// `hourly` with the discount taken off.
    pub fn discounted(&self, hourly: Decimal) -> Decimal {
        hourly * (Decimal::ONE - self.discount)
    }

    /// What `gib` of EBS costs per hour.
    pub fn volumes_hourly(&self, gib: u32) -> Decimal {
        self.ebs_gb_month * Decimal::from(gib) / Decimal::from(HOURS_PER_MONTH)
    }
}
