//! The AWS operations the engine needs, as a plugin trait in mliy's own types.
//!
//! Implementations: [`SimCloud`](crate::sim::SimCloud) here (deterministic, in virtual time)
//! and `AwsCloud` in `mliy-plugins` (feature `aws`).

mod ext;
mod types;

pub use ext::{CloudExt, all_pages, fold_pages};

pub use types::{
    ClusterInfo, ClusterState, CommandInvocation, CommandSpec, CommandStatus, InstanceFilter, InstanceGroupInfo,
    InstanceInfo, InstanceState, Page, StackEvent, StackInfo, StackResource, StackStatus, StepInfo, StepState,
};

// The shared types' old paths, for one release.

/// Moved to [`crate::model::ClusterSpec`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::ClusterSpec")]
pub type ClusterSpec = crate::model::ClusterSpec;
/// Moved to [`crate::model::StepSpec`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::StepSpec")]
pub type StepSpec = crate::model::StepSpec;

use crate::error::{Error, Result};
use crate::model::{self, StackSpec};
use crate::pricing::Decimal;
use async_trait::async_trait;
use std::fmt::Debug;
use std::time::Duration;

/// CloudFormation, EC2, EMR and SSM, as far as mliy uses them.
///
/// # Contract
/// - `create_stack` is idempotent by `spec.client_request_token`: a second call with the same
///   token returns the first stack's id and creates nothing. A live stack of the same name
///   and another token is [`Error::AlreadyExists`](crate::Error::AlreadyExists). A call the
///   object's state does not allow (starting a stopping instance) is
///   [`Error::WrongState`](crate::Error::WrongState).
/// - `describe_*` return `Ok(None)` (or no item) for something that does not exist, and an
///   error only when the call itself failed: a failed call never means "gone".
/// - `delete_stack`, `stop_instances`, `start_instances`, `terminate_clusters` are
///   idempotent.
/// - Listings page; a `next` token continues where the page ended.
///
/// # Errors
/// Throttling is [`Error::Throttled`](crate::Error::Throttled), server errors and timeouts
/// [`Error::Unavailable`](crate::Error::Unavailable) — both retryable; a timed-out mutating
/// call may or may not have been applied. Validation errors from the cloud are
/// [`Error::Validation`](crate::Error::Validation).
#[async_trait]
pub trait Cloud: Debug + Send + Sync + 'static {
    /// CreateStack, with the spec's ClientRequestToken; returns the stack id.
    async fn create_stack(&self, spec: &StackSpec) -> Result<String>;
    /// DescribeStacks for one stack, by name or id. A deleted stack is found by id (as
    /// DELETE_COMPLETE) but not by name.
    async fn describe_stack(&self, name_or_id: &str) -> Result<Option<StackInfo>>;
    /// ListStacks: every stack that is not deleted.
    async fn list_stacks(&self, next: Option<String>) -> Result<Page<StackInfo>>;
    /// DescribeStackResources.
    async fn stack_resources(&self, stack_id: &str) -> Result<Vec<StackResource>>;
    /// DescribeStackEvents, newest first: where a failed stack's real reason is (a missed
    /// resource signal, say). The default knows none, and failures then show the stack's own
    /// status reason.
    async fn stack_events(&self, stack_id: &str) -> Result<Vec<StackEvent>> {
        let _ = stack_id;
        Ok(Vec::new())
    }
    /// DeleteStack.
    async fn delete_stack(&self, stack_id: &str) -> Result<()>;
    /// DescribeInstances, up to 1,000 a page.
    async fn describe_instances(&self, filter: &InstanceFilter, next: Option<String>) -> Result<Page<InstanceInfo>>;
    /// StartInstances.
    async fn start_instances(&self, ids: &[String]) -> Result<()>;
    /// StopInstances.
    async fn stop_instances(&self, ids: &[String]) -> Result<()>;
    /// RebootInstances.
    async fn reboot_instances(&self, ids: &[String]) -> Result<()>;
    /// TerminateInstances: for an adopted instance that no stack of its own holds (a stack's
    /// instance goes with its stack). The default refuses, naming the call.
    async fn terminate_instances(&self, ids: &[String]) -> Result<()> {
        Err(Error::validation(
            "operation",
            "TerminateInstances",
            format!("this cloud cannot terminate {}", ids.join(",")),
        ))
    }
    /// RunJobFlow (no idempotency token: callers look for the launch's tag first).
    async fn run_job_flow(&self, spec: &model::ClusterSpec) -> Result<String>;
    /// DescribeCluster.
    async fn describe_cluster(&self, id: &str) -> Result<Option<ClusterInfo>>;
    /// ListClusters in the given states (all when empty), 50 a page.
    async fn list_clusters(&self, states: &[ClusterState], next: Option<String>) -> Result<Page<ClusterInfo>>;
    /// AddJobFlowSteps; returns the step ids.
    async fn add_steps(&self, cluster_id: &str, steps: &[model::emr::Step]) -> Result<Vec<String>>;
    /// ListSteps, newest first.
    async fn list_steps(&self, cluster_id: &str) -> Result<Vec<StepInfo>>;
    /// TerminateJobFlows.
    async fn terminate_clusters(&self, ids: &[String]) -> Result<()>;
    /// PutAutoTerminationPolicy.
    async fn set_auto_termination(&self, cluster_id: &str, idle: Duration) -> Result<()>;
    /// ListInstanceGroups.
    async fn list_instance_groups(&self, cluster_id: &str) -> Result<Vec<InstanceGroupInfo>>;
    /// ModifyInstanceGroups: `count` nodes in the group.
    async fn resize_instance_group(&self, cluster_id: &str, group_id: &str, count: u32) -> Result<()>;
    /// SetTerminationProtection: while on, TerminateJobFlows refuses the cluster.
    async fn set_termination_protection(&self, cluster_id: &str, protected: bool) -> Result<()>;
    /// SendCommand to every node of a cluster; returns the command id.
    async fn send_command(&self, spec: &CommandSpec) -> Result<String>;
    /// The command's invocations, one per node.
    async fn command_invocations(&self, command_id: &str) -> Result<Vec<CommandInvocation>>;
    /// The current Linux spot price of a type, in dollars per hour: in `availability_zone`,
    /// or the highest of the region's zones without one; `None` when there is none.
    async fn spot_price(&self, instance_type: &str, availability_zone: Option<&str>) -> Result<Option<Decimal>>;
}
