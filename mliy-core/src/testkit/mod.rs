//! Conformance suites every implementation of a plugin trait must pass (feature `testkit`).
//!
//! ```no_run
//! # async fn demo() {
//! let store = mliy_core::store::MemoryStore::new();
//! mliy_core::testkit::store::run_all(&store).await;
//! # }
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod auth;
pub mod cloud;
pub mod dns;
mod logs;
pub mod objects;
pub mod store;

pub use logs::CapturedLogs;

use crate::clock::Timestamp;
use crate::lifecycle::{Resource, ResourceKind};
use crate::model::{LaunchId, StackParameter, StackSpec, Tag};

/// A resource in phase Requested, owned by `owner`, for store tests.
pub fn sample_resource(id: &str, owner: &str) -> Resource {
    let stack = StackSpec {
        name: format!("mliy-{id}"),
        template_body: "Resources: {I: {Type: AWS::EC2::Instance}}".into(),
        parameters: vec![
            StackParameter::new("InstanceType", "t3.large"),
            StackParameter { no_echo: true, ..StackParameter::new("DbPassword", "sample-secret-value") },
        ],
        tags: vec![Tag::new("LaunchedBy", "MLIY")],
        client_request_token: id.to_string(),
    };
    let launch_id = LaunchId::parse(id).expect("a valid launch id");
    Resource {
        owner: owner.to_string(),
        owner_groups: vec!["data-science".into()],
        group_config: "ds".into(),
        software_config: "notebook".into(),
        instance_type: "t3.large".into(),
        progress_bar: true,
        ..Resource::requested(launch_id, ResourceKind::Instance, stack, Timestamp(1_700_000_000_000))
    }
}
