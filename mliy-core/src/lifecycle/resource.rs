//! The runtime records: resources and their append-only event history.

use super::phase::{Phase, ResourceKind};
use crate::clock::Timestamp;
use crate::cloud::ClusterSpec;
use crate::plan::{LaunchId, LaunchPlan, Tag, ValueSource};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The user-data parameter: stored with a placeholder where the progress secret goes.
pub const USER_DATA_KEY: &str = "UserData";

/// One CloudFormation parameter to send. `Debug` redacts NoEcho values.
///
/// A NoEcho value taken from a catalog param is not kept: `value` is empty and `from` says
/// which param to read when the stack is created.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackParameter {
    /// The key.
    pub key: String,
    /// The value (empty when it is read from `from`).
    pub value: String,
    /// Whether the template marks it NoEcho.
    #[serde(default)]
    pub no_echo: bool,
    /// The catalog param a NoEcho value is read from when the call is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ParamRef>,
}

impl StackParameter {
    /// A parameter whose value is sent as it is.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        StackParameter { key: key.into(), value: value.into(), no_echo: false, from: None }
    }
}

/// Which catalog param a value is read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamRef {
    /// A group config's or a software config's params.
    pub config: ConfigKind,
    /// The config's name.
    pub name: String,
    /// The param's token.
    pub token: String,
}

/// A kind of catalog config that holds params.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigKind {
    /// `group_configs[].params`.
    GroupConfig,
    /// `software_configs[].params`.
    SoftwareConfig,
}

impl fmt::Debug for StackParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.no_echo, self.key.as_str()) {
            (true, _) => write!(f, "{}=****", self.key),
            // The user data carries the progress secret (and whatever tokens hold).
            (false, "UserData") => write!(f, "UserData=<{} bytes>", self.value.len()),
            (false, _) => write!(f, "{}={:?}", self.key, self.value),
        }
    }
}

/// Everything CreateStack needs, kept with the resource so a resumed launch sends exactly
/// the same request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackSpec {
    /// The stack name.
    pub name: String,
    /// The template (shared: it is the catalog's).
    pub template_body: std::sync::Arc<str>,
    /// The parameters.
    pub parameters: Vec<StackParameter>,
    /// The stack's tags.
    pub tags: Vec<Tag>,
    /// CloudFormation's ClientRequestToken: the launch id.
    pub client_request_token: String,
}

impl fmt::Debug for StackSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackSpec")
            .field("name", &self.name)
            .field("template_len", &self.template_body.len())
            .field("parameters", &self.parameters)
            .field("client_request_token", &self.client_request_token)
            .finish_non_exhaustive()
    }
}

impl StackSpec {
    /// The spec without user data or NoEcho values: what a portal may be shown.
    pub fn redacted(&self) -> StackSpec {
        let parameters = self
            .parameters
            .iter()
            .map(|p| {
                let hidden = p.no_echo || p.key == USER_DATA_KEY;
                StackParameter { value: if hidden { String::new() } else { p.value.clone() }, ..p.clone() }
            })
            .collect();
        StackSpec { parameters, ..self.clone() }
    }
}

impl From<&LaunchPlan> for StackSpec {
    /// The spec to store: NoEcho values from catalog params are kept as references.
    fn from(plan: &LaunchPlan) -> Self {
        let parameters = plan
            .parameters
            .iter()
            .map(|p| {
                let config = match p.source {
                    ValueSource::GroupConfig => Some((ConfigKind::GroupConfig, &plan.group_config)),
                    ValueSource::SoftwareConfig => Some((ConfigKind::SoftwareConfig, &plan.software_config)),
                    ValueSource::Generated => None,
                };
                match config {
                    Some((config, name)) if p.no_echo => StackParameter {
                        key: p.key.clone(),
                        value: String::new(),
                        no_echo: true,
                        from: Some(ParamRef { config, name: name.clone(), token: p.key.clone() }),
                    },
                    _ => StackParameter { no_echo: p.no_echo, ..StackParameter::new(&p.key, p.value()) },
                }
            })
            .collect();
        StackSpec {
            name: plan.stack_name.clone(),
            template_body: std::sync::Arc::clone(&plan.template_body),
            parameters,
            tags: plan.tags.clone(),
            client_request_token: plan.client_request_token.clone(),
        }
    }
}

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
    /// The RunJobFlow request, for a cluster launched without a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_flow: Option<ClusterSpec>,
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
            stack_id: None,
            instance_id: None,
            cluster_id: None,
            private_ip: None,
            dns_name: None,
            phase: Phase::Requested,
            progress_bar: false,
            progress_open: false,
            deadline: None,
            cleanup_pending: false,
            archived: false,
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
