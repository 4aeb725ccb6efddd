//! The admin catalog (what may be launched, by whom, with what) and the principal.

mod catalog;
mod dn;
mod principal;

pub use catalog::{
    Catalog, GroupConfig, GroupMatch, GroupSettings, InstanceType, JobFlowSettings, Network, OnBootstrapTimeout, Param,
    SecurityGroup, SoftwareConfig, Source, VolumeSettings,
};
pub use dn::{dn_cn, normalize_dn};
pub use principal::Principal;
