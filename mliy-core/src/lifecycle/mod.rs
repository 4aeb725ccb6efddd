//! The lifecycle of launched resources: phases, the pure transition function, and the records
//! the engine keeps.

mod phase;
mod resource;

pub use phase::{Event, IllegalTransition, Phase, ResourceKind, transition};
pub use resource::{Actor, ConfigKind, LifecycleEvent, ParamRef, Resource, StackParameter, StackSpec, USER_DATA_KEY};
