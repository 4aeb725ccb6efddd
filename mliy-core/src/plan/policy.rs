//! The group's policy: who may launch what, on which instance type, with which security groups.

use super::request::{ClusterOptions, LaunchRequest};
use crate::error::{Error, Result};
use crate::model::{Catalog, GroupConfig, Market, Principal, SoftwareConfig};

/// What the policy check found, for the assembly that follows.
pub(crate) struct Checked<'c> {
    pub(crate) group: &'c GroupConfig,
    pub(crate) software: &'c SoftwareConfig,
    pub(crate) security_groups: Vec<String>,
}

pub(crate) fn check<'c>(catalog: &'c Catalog, principal: &Principal, request: &LaunchRequest) -> Result<Checked<'c>> {
    let group = catalog.group_config(&request.group_config)?;
    if !group.admits(principal) {
        return Err(Error::Forbidden(format!(
            "user {:?} is not a member of group {:?}, which group config {:?} requires",
            principal.username, group.group, group.name
        )));
    }
    let software = catalog.software_config(&request.software_config)?;
    if !software.permitted_group_configs.contains(&group.name) {
        return Err(Error::Forbidden(format!(
            "software config {:?} is not permitted for group config {:?}",
            software.name, group.name
        )));
    }
    match (&request.cluster, software.emr) {
        (Some(_), false) => {
            return Err(Error::validation("software_config", &software.name, "launches instances, not clusters"));
        }
        (None, true) => {
            return Err(Error::validation("software_config", &software.name, "launches EMR clusters, not instances"));
        }
        (Some(_), true) if !group.emr_access => {
            return Err(Error::Forbidden(format!("group config {:?} may not launch EMR clusters", group.name)));
        }
        (Some(options), true) => check_cluster(group, options)?,
        _ => {}
    }
    let ty = request.instance_type.as_str();
    if catalog.instance_type(ty).is_none() {
        return Err(Error::validation("instance_type", ty, "must be an instance type of the catalog"));
    }
    if !software.compatible_instance_types.iter().any(|t| t == ty) {
        return Err(Error::validation(
            "instance_type",
            ty,
            format!(
                "must be one of software config {}'s compatible instance types [{}]",
                software.name,
                software.compatible_instance_types.join(", ")
            ),
        ));
    }
    if group.excluded_instance_types.iter().any(|t| t == ty) {
        return Err(Error::validation("instance_type", ty, format!("is excluded for group config {}", group.name)));
    }
    let mut security_groups = group.default_security_groups.clone();
    for sg in &request.optional_security_groups {
        if !group.optional_security_groups.contains(sg) {
            return Err(Error::validation(
                "optional_security_groups",
                sg,
                format!(
                    "must be one of group config {}'s optional security groups [{}]",
                    group.name,
                    group.optional_security_groups.join(", ")
                ),
            ));
        }
        if !security_groups.contains(sg) {
            security_groups.push(sg.clone());
        }
    }
    Ok(Checked { group, software, security_groups })
}

/// Most core plus task nodes a cluster may have when the group config sets no
/// `max_cluster_nodes`.
pub const DEFAULT_MAX_CLUSTER_NODES: u32 = 20;
/// The highest spot bid accepted, in dollars per hour: above every EC2 on-demand price.
pub const MAX_SPOT_BID: f64 = 1_000.0;

/// Node counts and the spot bid of a cluster request.
fn check_cluster(group: &GroupConfig, options: &ClusterOptions) -> Result<()> {
    if options.core_nodes < 1 {
        return Err(Error::validation("cluster.core_nodes", "0", "a cluster needs at least 1 core node"));
    }
    let max = group.settings.max_cluster_nodes.unwrap_or(DEFAULT_MAX_CLUSTER_NODES);
    let nodes = u64::from(options.core_nodes) + u64::from(options.task_nodes);
    if nodes > u64::from(max) {
        return Err(Error::validation(
            "cluster.core_nodes + cluster.task_nodes",
            nodes.to_string(),
            format!("at most {max} for group config {} (its max_cluster_nodes)", group.name),
        ));
    }
    if let Market::Spot { bid: Some(bid) } = options.market
        && !(bid.is_finite() && bid > 0.0 && bid <= MAX_SPOT_BID)
    {
        return Err(Error::validation(
            "cluster.bid",
            bid.to_string(),
            format!("a spot bid is a price in dollars per hour, above 0 and at most {MAX_SPOT_BID}"),
        ));
    }
    Ok(())
}
