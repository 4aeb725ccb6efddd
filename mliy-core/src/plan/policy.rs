//! The group's policy: who may launch what, on which instance type, with which security groups.

use super::request::LaunchRequest;
use crate::error::{Error, Result};
use crate::model::{Catalog, GroupConfig, Principal, SoftwareConfig};

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
