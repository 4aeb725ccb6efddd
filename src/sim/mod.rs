//! The `mliy sim` harness: fleets launched, driven and audited on [`SimCloud`] in virtual
//! time ([`scenario`]), and one refresh pass over a standing fleet ([`fleet`]). It is a
//! program on top of the engine, not part of the core: the simulated cloud itself is
//! [`mliy_core::sim`], re-exported here.

mod audit;
mod costs;
#[cfg(feature = "http")]
mod example_image;
pub mod fleet;
mod image;
mod replica;
pub mod scenario;

#[cfg(feature = "http")]
pub use example_image::{Script, post_progress, spawn_example_images};
pub use image::Bootstrap;
pub use mliy_core::sim::*;
