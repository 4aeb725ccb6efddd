//! The ground floor: the admin catalog (what may be launched, by whom, with what), the
//! principal, and every type a plan, a record, the cloud and the store share — launch ids,
//! tags, markets, the stack and cluster specs, billing segments.
//!
//! It imports nothing of the crate but [`error`](crate::error), [`secret`](crate::secret) and
//! [`clock`](crate::clock), so every other module may use it.

mod billing;
mod catalog;
mod cluster;
mod dn;
pub mod emr;
mod ids;
mod market;
mod principal;
mod readiness;
mod stack;
mod tags;
mod workflow;

pub use billing::{BillState, BillingSegment, MINIMUM_BILLED_SECONDS, cost_of};
pub use catalog::{
    BudgetEnforcement, Catalog, GroupConfig, GroupMatch, GroupSettings, InstanceType, JobFlowSettings, Network,
    OnBootstrapTimeout, Param, SecurityGroup, SoftwareConfig, Source, VolumeSettings,
};
pub(crate) use cluster::stored_spec;
pub use cluster::{StepSpec, node_groups};
pub use dn::{dn_cn, normalize_dn};
pub use emr::ClusterSpec;
pub use ids::LaunchId;
pub use market::Market;
pub use principal::Principal;
pub use readiness::{MliyProgressPath, ProgressProtocol, ReadyWhen, parse_report};
pub use stack::{ConfigKind, ParamRef, StackParameter, StackSpec, USER_DATA_KEY};
pub use tags::{LAUNCH_ID_TAG, MANAGED_TAG, MLIY_CLUSTER_TAG, Tag};
pub use workflow::{PendingStep, WorkflowOutcome, WorkflowProgress};
