//! A cluster launched directly with RunJobFlow, and its steps.

use super::market::Market;
use super::tags::Tag;
use serde::{Deserialize, Serialize};

/// A step to run on a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSpec {
    /// Its name.
    pub name: String,
    /// The jar, e.g. `command-runner.jar`.
    pub jar: String,
    /// Its arguments.
    pub args: Vec<String>,
}

/// A cluster launched directly with RunJobFlow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// The cluster name.
    pub name: String,
    /// EMR release, e.g. `emr-6.15.0`.
    pub release_label: String,
    /// Instance type of every node.
    pub instance_type: String,
    /// Core nodes.
    pub core_nodes: u32,
    /// Task nodes.
    pub task_nodes: u32,
    /// On-demand or spot (with an optional bid; EMR caps spot at the on-demand price
    /// without one).
    pub market: Market,
    /// Subnet.
    pub subnet_id: Option<String>,
    /// SSH key pair.
    pub key_name: Option<String>,
    /// EC2 instance profile of the nodes.
    pub job_flow_role: String,
    /// EMR's service role.
    pub service_role: String,
    /// Applications, e.g. Spark.
    pub applications: Vec<String>,
    /// Steps to run after bootstrap.
    pub steps: Vec<StepSpec>,
    /// Idle seconds before auto-termination.
    pub idle_timeout_seconds: Option<u64>,
    /// Tags (the launch id among them).
    pub tags: Vec<Tag>,
}

impl ClusterSpec {
    /// A Spark cluster: one master and two `m5.xlarge` core nodes on demand, EMR's default
    /// roles, no network settings, no steps.
    pub fn spark(name: impl Into<String>, tags: Vec<Tag>) -> ClusterSpec {
        ClusterSpec {
            name: name.into(),
            release_label: "emr-6.15.0".into(),
            instance_type: "m5.xlarge".into(),
            core_nodes: 2,
            task_nodes: 0,
            market: Market::OnDemand,
            subnet_id: None,
            key_name: None,
            job_flow_role: "EMR_EC2_DefaultRole".into(),
            service_role: "EMR_DefaultRole".into(),
            applications: vec!["Spark".into()],
            steps: vec![],
            idle_timeout_seconds: None,
            tags,
        }
    }
}
