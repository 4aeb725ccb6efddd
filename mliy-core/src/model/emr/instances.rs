//! `Instances`: the network, the key and the nodes, as instance groups or instance fleets.

use serde::{Deserialize, Serialize};

/// RunJobFlow's `Instances`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Instances {
    /// The SSH key pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_key_name: Option<String>,
    /// One subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_subnet_id: Option<String>,
    /// Subnets EMR picks from (instance fleets only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ec2_subnet_ids: Vec<String>,
    /// The availability zone, for a cluster outside a VPC subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// EMR-managed security group of the master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emr_managed_master_security_group: Option<String>,
    /// EMR-managed security group of the other nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emr_managed_slave_security_group: Option<String>,
    /// The service-access security group (private subnets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_access_security_group: Option<String>,
    /// More security groups of the master.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_master_security_groups: Vec<String>,
    /// More security groups of the other nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_slave_security_groups: Vec<String>,
    /// The nodes as instance groups (or [`Instances::instance_fleets`], never both).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_groups: Vec<InstanceGroup>,
    /// The nodes as instance fleets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_fleets: Vec<InstanceFleet>,
    /// Whether the cluster stays up when it has no steps left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_job_flow_alive_when_no_steps: Option<bool>,
    /// Whether termination is refused until protection is lifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_protected: Option<bool>,
    /// The Hadoop version of an AMI-versioned cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hadoop_version: Option<String>,
}

/// Where nodes are placed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Placement {
    /// The zone, `us-east-1a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Zones EMR picks from (instance fleets only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_zones: Vec<String>,
}

/// What a group or fleet of nodes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceRole {
    /// The master node(s).
    Master,
    /// Core nodes (HDFS).
    #[default]
    Core,
    /// Task nodes.
    Task,
}

/// How an instance group's nodes are bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MarketType {
    /// On demand.
    OnDemand,
    /// Spot.
    Spot,
}

/// An instance group.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceGroup {
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MASTER, CORE or TASK.
    pub instance_role: InstanceRole,
    /// On demand (EMR's default) or spot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<MarketType>,
    /// The spot bid in dollars per hour, as text (`"0.8"`); spot groups only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bid_price: Option<String>,
    /// The instance type.
    pub instance_type: String,
    /// How many nodes.
    pub instance_count: u32,
    /// Volumes attached to each node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_configuration: Option<EbsConfiguration>,
    /// Configurations of this group's nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<super::Configuration>,
}

/// An instance fleet: capacities met from a list of instance types.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceFleet {
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MASTER, CORE or TASK.
    pub instance_fleet_type: InstanceRole,
    /// On-demand capacity, in units of weighted capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_on_demand_capacity: Option<u32>,
    /// Spot capacity, in units of weighted capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_spot_capacity: Option<u32>,
    /// The types that may fill it.
    pub instance_type_configs: Vec<InstanceTypeConfig>,
    /// What happens when spot capacity is not found in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_specifications: Option<LaunchSpecifications>,
}

/// One instance type a fleet may use.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceTypeConfig {
    /// The type.
    pub instance_type: String,
    /// Units of capacity one node counts for (1 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted_capacity: Option<u32>,
    /// A spot bid in dollars per hour, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bid_price: Option<String>,
    /// A spot bid as a percentage of the on-demand price (EMR's default is 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bid_price_as_percentage_of_on_demand_price: Option<f64>,
    /// Volumes attached to each node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_configuration: Option<EbsConfiguration>,
}

/// A fleet's spot settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LaunchSpecifications {
    /// The spot timeout and its action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_specification: Option<SpotSpecification>,
}

/// How long a fleet waits for spot capacity, and what it does then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SpotSpecification {
    /// Minutes to wait (5 to 1,440).
    pub timeout_duration_minutes: u32,
    /// Then: switch to on demand, or terminate the cluster.
    pub timeout_action: SpotTimeoutAction,
    /// `capacity-optimized`, `price-capacity-optimized`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_strategy: Option<String>,
}

/// What a fleet does when its spot timeout passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SpotTimeoutAction {
    /// Fill the rest on demand.
    SwitchToOnDemand,
    /// Give up: terminate the cluster.
    TerminateCluster,
}

/// Volumes attached to each node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EbsConfiguration {
    /// The volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ebs_block_device_configs: Vec<EbsBlockDeviceConfig>,
    /// EBS-optimised nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_optimized: Option<bool>,
}

/// Identical volumes on each node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EbsBlockDeviceConfig {
    /// Each volume.
    pub volume_specification: VolumeSpecification,
    /// How many (1 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes_per_instance: Option<u32>,
}

/// One volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VolumeSpecification {
    /// `gp2`, `gp3`, `io1`, `st1`, `sc1` or `standard`.
    pub volume_type: String,
    /// Its size in GiB.
    #[serde(rename = "SizeInGB")]
    pub size_in_gb: u32,
    /// Provisioned IOPS (io1, gp3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
}

impl EbsConfiguration {
    /// One EBS-optimised volume per node, as edX's module writes it.
    pub fn one_volume(volume_type: impl Into<String>, size_in_gb: u32) -> EbsConfiguration {
        let volume_specification = VolumeSpecification { volume_type: volume_type.into(), size_in_gb, iops: None };
        EbsConfiguration {
            ebs_block_device_configs: vec![EbsBlockDeviceConfig { volume_specification, volumes_per_instance: None }],
            ebs_optimized: Some(true),
        }
    }
}
