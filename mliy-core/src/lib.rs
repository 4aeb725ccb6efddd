//! mliy-core: the pure logic of mliy, a library that lets an in-house portal offer
//! self-service analytics environments (EC2 instances and EMR clusters) on AWS.
//!
//! It holds the [`model`] (the admin [catalog](model::Catalog) and every shared type),
//! CloudFormation [template](template::Template) inspection, [user-data](userdata) rendering,
//! the [launch planner](plan::Planner), the [lifecycle], the engine's four plugin traits
//! ([`Cloud`](cloud::Cloud), [`StateStore`](store::StateStore),
//! [`DnsProvider`](dns::DnsProvider), [`AuthProvider`](auth::AuthProvider)), the
//! [engine](engine::Engine), and in-memory implementations of each trait (the simulated cloud
//! is [`sim::SimCloud`]); S3 as [`ObjectStore`](objects::ObjectStore), with the catalog's
//! [library] sync and [datasets] on top; `testkit` (feature) holds a conformance suite per
//! trait. Nothing here opens a socket: the AWS, DNS, LDAP, S3 and SQL backends live in
//! `mliy-plugins`. The
//! repository's `ARCHITECTURE.md` shows the floors and where to add what.
//!
//! ```
//! use mliy_core::template::Template;
//!
//! let t = Template::parse("t.yaml", "Parameters: {Name: {Type: String, MaxLength: 5}}\nResources: {B: {Type: AWS::S3::Bucket}}").unwrap();
//! let err = t.parameter("Name").unwrap().check("too-long").unwrap_err();
//! assert_eq!(err.rule, "MaxLength 5 (the value has 8 characters)");
//! ```

pub mod auth;
mod catalog_load;
pub mod clock;
pub mod cloud;
pub mod datasets;
pub mod deploy;
pub mod dns;
pub mod engine;
pub mod error;
pub mod files;
pub mod import;
pub mod library;
pub mod lifecycle;
pub mod model;
pub mod objects;
pub mod plan;
pub mod pricing;
pub mod secret;
pub mod sim;
pub mod store;
pub mod template;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod userdata;

pub use error::{Error, Result, ValidationError};
