//! Conformance suites every implementation of a plugin trait must pass (feature `testkit`).
//!
//! ```no_run
//! # async fn demo() {
//! let store = mliy_core::store::MemoryStore::new();
//! mliy_core::testkit::store::run_all(&store).await;
//! # }
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod logs;
pub mod store;

pub use logs::CapturedLogs;

use crate::clock::Timestamp;
use crate::lifecycle::{Phase, Resource, ResourceKind, StackParameter, StackSpec};
use crate::plan::{LaunchId, Tag};

/// A resource in phase Requested, owned by `owner`, for store tests.
pub fn sample_resource(id: &str, owner: &str) -> Resource {
    Resource {
        id: LaunchId::parse(id).expect("a valid launch id"),
        kind: ResourceKind::Instance,
        owner: owner.to_string(),
        owner_groups: vec!["data-science".into()],
        group_config: "ds".into(),
        software_config: "notebook".into(),
        instance_type: "t3.large".into(),
        stack: StackSpec {
            name: format!("mliy-{id}"),
            template_body: "Resources: {I: {Type: AWS::EC2::Instance}}".into(),
            parameters: vec![
                StackParameter { key: "InstanceType".into(), value: "t3.large".into(), no_echo: false },
                StackParameter { key: "DbPassword".into(), value: "sample-secret-value".into(), no_echo: true },
            ],
            tags: vec![Tag::new("LaunchedBy", "MLIY")],
            client_request_token: id.to_string(),
        },
        stack_id: None,
        instance_id: None,
        cluster_id: None,
        private_ip: None,
        dns_name: None,
        phase: Phase::Requested,
        progress_bar: true,
        progress_secret_sha256: None,
        deadline: None,
        cleanup_pending: false,
        archived: false,
        created_at: Timestamp(1_700_000_000_000),
        updated_at: Timestamp(1_700_000_000_000),
        version: 1,
    }
}
