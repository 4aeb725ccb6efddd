//! mliy: self-service analytics environments (EC2 instances and EMR clusters) on AWS, as a
//! library that portals embed.
//!
//! This facade re-exports [`mliy_core`] (catalog, templates, user data, launch plans) and the
//! backends of `mliy-plugins` that are enabled by Cargo features.
//!
//! ```
//! use mliy::template::Template;
//!
//! let t = Template::parse("t.json", r#"{"Parameters": {"A": {"Type": "Number", "MaxValue": "3"}},
//!                                      "Resources": {"B": {"Type": "AWS::S3::Bucket"}}}"#).unwrap();
//! assert!(t.parameter("A").unwrap().check("4").is_err());
//! ```

pub mod config;
pub mod demo;
#[cfg(feature = "http")]
pub mod http;
pub mod registry;
#[cfg(feature = "sim")]
pub mod sim;

pub use mliy_core::*;
pub use mliy_plugins as plugins;
