//! The runtime records: resources and their append-only event history.

use super::phase::{Phase, ResourceKind};
use crate::clock::Timestamp;
use crate::model::{ClusterSpec, LaunchId, StackSpec};
use serde::{Deserialize, Serialize};

/// An instance or a cluster under management.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// The launch id.
    pub id: LaunchId,
    /// Instance or cluster.
    pub kind: ResourceKind,
    /// The owner's username.
    pub owner: String,
    /// The owner's groups at launch (for group managers' rights).
    pub owner_groups: Vec<String>,
    /// The group config it was launched under.
    pub group_config: String,
    /// The software config it runs.
    pub software_config: String,
    /// Its instance type.
    pub instance_type: String,
    /// The stack it is created by (shared: records are cloned often, the spec never changes).
    pub stack: std::sync::Arc<StackSpec>,
    /// The RunJobFlow request, for a cluster launched without a template (boxed: most
    /// records have none, and records are copied often).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::model::stored_spec")]
    pub job_flow: Option<Box<ClusterSpec>>,
    /// A workflow's progress, for a cluster a state machine launched (boxed, as `job_flow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<Box<crate::model::WorkflowProgress>>,
    /// CloudFormation's stack id, once known.
    pub stack_id: Option<String>,
    /// The EC2 instance id (instances), once known.
    pub instance_id: Option<String>,
    /// The EMR cluster id (clusters), once known.
    pub cluster_id: Option<String>,
    /// Private IP of the instance or the cluster's master.
    pub private_ip: Option<String>,
    /// Its DNS name, once registered.
    pub dns_name: Option<String>,
    /// Where it is.
    pub phase: Phase,
    /// Whether the bootstrap reports progress.
    pub progress_bar: bool,
    /// What makes it ready (instances; from its plan).
    #[serde(default)]
    pub ready_when: crate::model::ReadyWhen,
    /// How long CloudFormation waits for the instance's resource signal, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_timeout_secs: Option<u64>,
    /// Whether the bootstrap may still report progress. The secret itself is never stored:
    /// it is derived from the engine's progress key and the launch id.
    #[serde(default)]
    pub progress_open: bool,
    /// When the current wait gives up.
    pub deadline: Option<Timestamp>,
    /// A failed resource whose cloud resources are still being removed.
    pub cleanup_pending: bool,
    /// Hidden from default listings.
    pub archived: bool,
    /// Activity and lifetime bookkeeping.
    #[serde(default)]
    pub watch: Watch,
    /// When it was requested.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Bumped by every stored change (compare-and-set).
    pub version: u64,
}

impl Resource {
    /// A resource just requested: version 1, phase Requested, nothing known of the cloud
    /// yet. Owner, configs and instance type are left empty for the caller to set.
    pub fn requested(id: LaunchId, kind: ResourceKind, stack: StackSpec, at: Timestamp) -> Resource {
        Resource {
            id,
            kind,
            owner: String::new(),
            owner_groups: Vec::new(),
            group_config: String::new(),
            software_config: String::new(),
            instance_type: String::new(),
            stack: std::sync::Arc::new(stack),
            job_flow: None,
            workflow: None,
            stack_id: None,
            instance_id: None,
            cluster_id: None,
            private_ip: None,
            dns_name: None,
            phase: Phase::Requested,
            progress_bar: false,
            ready_when: crate::model::ReadyWhen::default(),
            signal_timeout_secs: None,
            progress_open: false,
            deadline: None,
            cleanup_pending: false,
            archived: false,
            watch: Watch::default(),
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    /// The record without user data or NoEcho values (see [`StackSpec::redacted`]): what the
    /// engine hands to callers.
    pub fn redacted(mut self) -> Resource {
        self.stack = std::sync::Arc::new(self.stack.redacted());
        self
    }

    /// Whether the engine still has work to do on it.
    pub fn needs_driving(&self) -> bool {
        !self.phase.is_terminal() || self.cleanup_pending
    }
}

/// What idle stop and lifetimes keep of a resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// The last activity report, or when the resource last became usable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_at: Option<Timestamp>,
    /// Whether the idle warning was given since that.
    #[serde(default)]
    pub idle_warned: bool,
    /// Hours added to its lifetime by `extend`.
    #[serde(default)]
    pub extended_hours: u32,
    /// How many of the lifetime warnings (24 hours, 1 hour before) were given.
    #[serde(default)]
    pub lifetime_warnings: u8,
}

/// Who caused a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Actor {
    /// A user, by username.
    User(String),
    /// The engine itself (waits, deadlines, cloud observations).
    Engine,
    /// The instance's bootstrap, through the progress callback.
    Bootstrap,
}

/// One recorded transition. Events are only ever appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    /// The resource.
    pub resource: LaunchId,
    /// Its position in the resource's history (1, 2, …).
    pub seq: u64,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: Actor,
    /// The phase before.
    pub from: Phase,
    /// The phase after.
    pub to: Phase,
    /// Why, in words.
    pub reason: String,
}
