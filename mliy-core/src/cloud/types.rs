//! The cloud's objects, in mliy's own types (never an AWS SDK type).

use crate::model::Tag;
use serde::{Deserialize, Serialize};

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The token for the next page, if any.
    pub next: Option<String>,
}

/// CloudFormation's stack status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StackStatus {
    /// CREATE_IN_PROGRESS.
    CreateInProgress,
    /// CREATE_COMPLETE.
    CreateComplete,
    /// CREATE_FAILED.
    CreateFailed,
    /// ROLLBACK_IN_PROGRESS.
    RollbackInProgress,
    /// ROLLBACK_COMPLETE: creation failed and was undone; the stack must still be deleted.
    RollbackComplete,
    /// ROLLBACK_FAILED.
    RollbackFailed,
    /// DELETE_IN_PROGRESS.
    DeleteInProgress,
    /// DELETE_COMPLETE.
    DeleteComplete,
    /// DELETE_FAILED.
    DeleteFailed,
    /// Anything else (updates, imports), as AWS spells it.
    Other(String),
}

impl StackStatus {
    /// Parses AWS's spelling.
    pub fn parse(s: &str) -> StackStatus {
        match s {
            "CREATE_IN_PROGRESS" => StackStatus::CreateInProgress,
            "CREATE_COMPLETE" => StackStatus::CreateComplete,
            "CREATE_FAILED" => StackStatus::CreateFailed,
            "ROLLBACK_IN_PROGRESS" => StackStatus::RollbackInProgress,
            "ROLLBACK_COMPLETE" => StackStatus::RollbackComplete,
            "ROLLBACK_FAILED" => StackStatus::RollbackFailed,
            "DELETE_IN_PROGRESS" => StackStatus::DeleteInProgress,
            "DELETE_COMPLETE" => StackStatus::DeleteComplete,
            "DELETE_FAILED" => StackStatus::DeleteFailed,
            other => StackStatus::Other(other.to_string()),
        }
    }

    /// AWS's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            StackStatus::CreateInProgress => "CREATE_IN_PROGRESS",
            StackStatus::CreateComplete => "CREATE_COMPLETE",
            StackStatus::CreateFailed => "CREATE_FAILED",
            StackStatus::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            StackStatus::RollbackComplete => "ROLLBACK_COMPLETE",
            StackStatus::RollbackFailed => "ROLLBACK_FAILED",
            StackStatus::DeleteInProgress => "DELETE_IN_PROGRESS",
            StackStatus::DeleteComplete => "DELETE_COMPLETE",
            StackStatus::DeleteFailed => "DELETE_FAILED",
            StackStatus::Other(s) => s,
        }
    }

    /// Whether creation failed (the stack will never be CREATE_COMPLETE).
    pub fn is_failed_creation(&self) -> bool {
        matches!(
            self,
            StackStatus::CreateFailed
                | StackStatus::RollbackInProgress
                | StackStatus::RollbackComplete
                | StackStatus::RollbackFailed
        )
    }
}

/// A stack as DescribeStacks reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    /// The stack id (ARN).
    pub id: String,
    /// The name.
    pub name: String,
    /// The status.
    pub status: StackStatus,
    /// Why it is in that status, when CloudFormation says.
    pub reason: Option<String>,
    /// Outputs: key → value.
    pub outputs: Vec<(String, String)>,
    /// The stack's tags.
    pub tags: Vec<Tag>,
}

/// One of a stack's events (DescribeStackEvents), as far as failures need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    /// The resource's logical id.
    pub logical_id: String,
    /// Its type.
    pub resource_type: String,
    /// Its status then, e.g. `CREATE_FAILED`.
    pub status: String,
    /// CloudFormation's reason.
    pub reason: Option<String>,
}

/// A resource of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    /// The template's logical id.
    pub logical_id: String,
    /// The resource type, e.g. `AWS::EC2::Instance`.
    pub resource_type: String,
    /// The physical id, once created.
    pub physical_id: Option<String>,
    /// The resource status, as AWS spells it.
    pub status: String,
}

/// EC2's instance state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    /// pending.
    Pending,
    /// running.
    Running,
    /// stopping.
    Stopping,
    /// stopped.
    Stopped,
    /// shutting-down.
    ShuttingDown,
    /// terminated.
    Terminated,
}

/// An instance as DescribeInstances reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    /// The instance id.
    pub id: String,
    /// Its state.
    pub state: InstanceState,
    /// Its type.
    pub instance_type: String,
    /// Private IP, when it has one.
    pub private_ip: Option<String>,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// Which instances to describe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceFilter {
    /// Only these ids (all when empty).
    pub ids: Vec<String>,
    /// Only instances with this tag key and value.
    pub tag: Option<(String, String)>,
}

/// EMR's cluster state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterState {
    /// STARTING.
    Starting,
    /// BOOTSTRAPPING.
    Bootstrapping,
    /// RUNNING.
    Running,
    /// WAITING.
    Waiting,
    /// TERMINATING.
    Terminating,
    /// TERMINATED.
    Terminated,
    /// TERMINATED_WITH_ERRORS.
    TerminatedWithErrors,
}

impl ClusterState {
    /// Whether the cluster is gone.
    pub fn is_terminated(self) -> bool {
        matches!(self, ClusterState::Terminated | ClusterState::TerminatedWithErrors)
    }
}

/// A cluster as DescribeCluster reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The cluster id (`j-…`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: ClusterState,
    /// EMR's reason for the state, when it gives one.
    pub state_reason: Option<String>,
    /// The master's private IP, once known.
    pub master_private_ip: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// A step's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepState {
    /// PENDING.
    Pending,
    /// RUNNING.
    Running,
    /// COMPLETED.
    Completed,
    /// CANCELLED.
    Cancelled,
    /// FAILED.
    Failed,
    /// INTERRUPTED.
    Interrupted,
}

/// An instance group as ListInstanceGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceGroupInfo {
    /// Its id (`ig-…`).
    pub id: String,
    /// MASTER, CORE or TASK.
    pub role: crate::model::emr::InstanceRole,
    /// Its instance type.
    pub instance_type: String,
    /// The nodes asked for.
    pub requested: u32,
}

/// A step as ListSteps reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInfo {
    /// The step id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: StepState,
    /// Why it failed, when it did.
    pub failure_details: Option<String>,
}

/// An SSM command for every node of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    /// The SSM document.
    pub document: String,
    /// The cluster whose nodes run it.
    pub cluster_id: String,
    /// Document parameters.
    pub parameters: Vec<(String, Vec<String>)>,
}

/// An SSM command invocation's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandStatus {
    /// Pending.
    Pending,
    /// InProgress.
    InProgress,
    /// Success.
    Success,
    /// Failed.
    Failed,
    /// TimedOut.
    TimedOut,
    /// Cancelled.
    Cancelled,
}

impl CommandStatus {
    /// Whether the invocation has finished.
    pub fn is_final(self) -> bool {
        !matches!(self, CommandStatus::Pending | CommandStatus::InProgress)
    }
}

/// One node's run of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandInvocation {
    /// The node.
    pub instance_id: String,
    /// Its status.
    pub status: CommandStatus,
}
