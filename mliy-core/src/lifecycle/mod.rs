//! The lifecycle of launched resources: phases, the pure transition function, and the records
//! the engine keeps.

mod phase;
mod resource;

pub use phase::{Event, IllegalTransition, Phase, ResourceKind, transition};
pub use resource::{Actor, LifecycleEvent, Resource, Watch};

// The shared types' old paths, for one release.

/// Moved to [`crate::model::StackSpec`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::StackSpec")]
pub type StackSpec = crate::model::StackSpec;
/// Moved to [`crate::model::StackParameter`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::StackParameter")]
pub type StackParameter = crate::model::StackParameter;
/// Moved to [`crate::model::ParamRef`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::ParamRef")]
pub type ParamRef = crate::model::ParamRef;
/// Moved to [`crate::model::ConfigKind`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::ConfigKind")]
pub type ConfigKind = crate::model::ConfigKind;
/// Moved to [`crate::model::USER_DATA_KEY`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::USER_DATA_KEY")]
pub const USER_DATA_KEY: &str = crate::model::USER_DATA_KEY;
