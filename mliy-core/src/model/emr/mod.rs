//! An EMR cluster as RunJobFlow takes it, in the API's field names (`ReleaseLabel`,
//! `Instances.InstanceGroups`, …), so that a request shows and reads as AWS documents it: what
//! edX's cluster files, Step Functions' `createCluster` and mliy's own job flows express.
//!
//! [`ClusterSpec::check`] refuses, before any call, what EMR would refuse or drop: groups and
//! fleets together, a master count other than 1 or 3, a bid on an on-demand group, counts and
//! capacities out of range, a subnet and a zone together.

mod check;
mod instances;
mod steps;

pub use instances::{
    EbsBlockDeviceConfig, EbsConfiguration, InstanceFleet, InstanceGroup, InstanceRole, InstanceTypeConfig, Instances,
    LaunchSpecifications, MarketType, Placement, SpotSpecification, SpotTimeoutAction, VolumeSpecification,
};
pub use steps::{
    ActionOnFailure, BootstrapAction, COMMAND_RUNNER, Configuration, HadoopJarStep, KeyValue, SCRIPT_RUNNER,
    ScriptBootstrapAction, Step,
};

use serde::{Deserialize, Serialize};

/// A RunJobFlow request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ClusterSpec {
    /// The cluster's name.
    #[serde(default)]
    pub name: String,
    /// The EMR release (`emr-6.15.0`); or [`ClusterSpec::ami_version`] for clusters before 4.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_label: Option<String>,
    /// The AMI version of a cluster before EMR 4.0 (`2.4.11`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ami_version: Option<String>,
    /// Applications: Spark, Hive, JupyterHub, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<Application>,
    /// Where EMR writes its logs (`s3://…`).
    #[serde(default, rename = "LogUri", skip_serializing_if = "Option::is_none")]
    pub log_uri: Option<String>,
    /// EMR's service role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_role: Option<String>,
    /// The nodes' instance profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_flow_role: Option<String>,
    /// The role EMR's automatic scaling uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling_role: Option<String>,
    /// A security configuration's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_configuration: Option<String>,
    /// Network, key, nodes and keep-alive.
    #[serde(default)]
    pub instances: Instances,
    /// Scripts run on every node before applications start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootstrap_actions: Vec<BootstrapAction>,
    /// Steps queued at launch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Application configurations (`spark-defaults`, `jupyter-s3-conf`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<Configuration>,
    /// The root volume's size in GiB.
    #[serde(default, rename = "EbsRootVolumeSize", skip_serializing_if = "Option::is_none")]
    pub ebs_root_volume_size: Option<u32>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<ApiTag>,
    /// Whether every IAM user of the account sees the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_to_all_users: Option<bool>,
    /// Terminate after this long idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_termination_policy: Option<AutoTerminationPolicy>,
}

/// An application and its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Application {
    /// Its name: `Spark`, `Hive`, …
    pub name: String,
    /// Arguments, for the few applications that take them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

impl Application {
    /// An application without arguments.
    pub fn named(name: impl Into<String>) -> Application {
        Application { name: name.into(), args: Vec::new() }
    }
}

/// A tag as EMR writes it (`{"Key", "Value"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ApiTag {
    /// The key.
    pub key: String,
    /// The value.
    #[serde(default)]
    pub value: String,
}

/// EMR's idle timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AutoTerminationPolicy {
    /// Seconds idle before the cluster terminates (60 to 604,800).
    pub idle_timeout: u64,
}

/// Whether `name` is a portable Linux user name (what steps that add users accept): a
/// lowercase letter or `_`, then lowercase letters, digits, `_` and `-`, at most 32.
pub fn is_user_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 32
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl ClusterSpec {
    /// A Spark cluster: one master and two `m5.xlarge` core nodes on demand, EMR's default
    /// roles, kept alive, no network settings, no steps.
    pub fn spark(name: impl Into<String>, tags: Vec<super::Tag>) -> ClusterSpec {
        ClusterSpec {
            name: name.into(),
            release_label: Some("emr-6.15.0".into()),
            applications: vec![Application::named("Spark")],
            service_role: Some("EMR_DefaultRole".into()),
            job_flow_role: Some("EMR_EC2_DefaultRole".into()),
            instances: Instances {
                instance_groups: super::node_groups("m5.xlarge", 2, 0, &super::Market::OnDemand),
                keep_job_flow_alive_when_no_steps: Some(true),
                ..Instances::default()
            },
            tags: tags.iter().map(ApiTag::from).collect(),
            visible_to_all_users: Some(true),
            ..ClusterSpec::default()
        }
    }

    /// The request as JSON, in the API's field names.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Reads a request written in the API's field names; an unknown field is an error naming it.
    ///
    /// # Errors
    /// [`Error::Validation`](crate::Error::Validation) naming the field and what is wrong.
    pub fn from_json(value: serde_json::Value) -> crate::Result<ClusterSpec> {
        serde_json::from_value(value).map_err(|e| crate::Error::validation("RunJobFlow request", "", e.to_string()))
    }

    /// Every node the cluster asks for when it starts: instance counts of its groups, or the
    /// target capacities of its fleets (units of weighted capacity).
    pub fn node_count(&self) -> u32 {
        let groups = self.instances.instance_groups.iter().map(|g| g.instance_count);
        let fleets = self
            .instances
            .instance_fleets
            .iter()
            .map(|f| f.target_on_demand_capacity.unwrap_or(0).saturating_add(f.target_spot_capacity.unwrap_or(0)));
        groups.chain(fleets).fold(0u32, u32::saturating_add)
    }
}
