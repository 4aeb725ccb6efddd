//! What a user asks to launch.

use crate::model::{LaunchId, Market, Param};
use serde::{Deserialize, Serialize};

/// The cluster part of a launch request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterOptions {
    /// Core nodes.
    pub core_nodes: u32,
    /// Task nodes.
    #[serde(default)]
    pub task_nodes: u32,
    /// On-demand or spot.
    pub market: Market,
    /// What the cluster is for (the `Purpose` tag).
    #[serde(default)]
    pub purpose: String,
}

/// A request to launch an instance or a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchRequest {
    /// This launch's id.
    pub launch_id: LaunchId,
    /// The group config to launch under.
    pub group_config: String,
    /// The software config to launch.
    pub software_config: String,
    /// The instance type (of every node, for clusters).
    pub instance_type: String,
    /// Optional security groups the user picked (instances).
    #[serde(default)]
    pub optional_security_groups: Vec<String>,
    /// Size of the additional volume in GiB; the software config's default when `None`.
    #[serde(default)]
    pub volume_size: Option<u32>,
    /// Present for a cluster launch.
    #[serde(default)]
    pub cluster: Option<ClusterOptions>,
    /// Tokens from the portal or the directory (e.g. LDAP attributes); they win over every
    /// other token. Then come the built-in `MLIY_USER` and `MLIY_LAUNCH_ID`, the group
    /// config's params, the software config's params, the catalog's replacement tokens, and
    /// last the built-in `EBS_DEVICE` (the software config's volume device path).
    #[serde(default)]
    pub tokens: Vec<Param>,
    /// JupyterHub users to create on a job-flow cluster that runs JupyterHub; each gets a
    /// password, returned once by the launch.
    #[serde(default)]
    pub jupyter_users: Vec<String>,
}

impl LaunchRequest {
    /// An instance launch with a new random id.
    pub fn instance(
        group_config: impl Into<String>,
        software_config: impl Into<String>,
        instance_type: impl Into<String>,
    ) -> Self {
        LaunchRequest {
            launch_id: LaunchId::new_random(),
            group_config: group_config.into(),
            software_config: software_config.into(),
            instance_type: instance_type.into(),
            optional_security_groups: Vec::new(),
            volume_size: None,
            cluster: None,
            tokens: Vec::new(),
            jupyter_users: Vec::new(),
        }
    }

    /// A cluster launch with a new random id.
    pub fn cluster(
        group_config: impl Into<String>,
        software_config: impl Into<String>,
        instance_type: impl Into<String>,
        options: ClusterOptions,
    ) -> Self {
        LaunchRequest { cluster: Some(options), ..Self::instance(group_config, software_config, instance_type) }
    }

    /// Sets the launch id.
    pub fn with_launch_id(mut self, id: LaunchId) -> Self {
        self.launch_id = id;
        self
    }

    /// Sets the additional volume's size.
    pub fn with_volume_size(mut self, gib: u32) -> Self {
        self.volume_size = Some(gib);
        self
    }

    /// Adds optional security groups.
    pub fn with_optional_security_groups(mut self, ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.optional_security_groups.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Adds JupyterHub users.
    pub fn with_jupyter_users(mut self, users: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.jupyter_users.extend(users.into_iter().map(Into::into));
        self
    }

    /// Adds a token from the portal or the directory.
    pub fn with_token(mut self, token: impl Into<String>, value: impl Into<String>) -> Self {
        self.tokens.push(Param::new(token, value));
        self
    }
}
