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
