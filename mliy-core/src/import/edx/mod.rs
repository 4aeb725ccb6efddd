//! edX analytics' EMR cluster files: the YAML (often flow-style) that the analytics pipeline
//! feeds to the Ansible `emr` module (edx/edx-analytics-configuration, `batch/library/emr` and
//! `batch/provision.yml`), read into the RunJobFlow request that module sends, with the
//! playbook's defaults.
//!
//! Two deliberate differences: `ec2_attributes` go under `Instances` (edX puts them at the
//! request's top level, which RunJobFlow rejects), and `user_info` becomes a step that adds the
//! SSH users on the master (users whose keys come from GitHub are refused, never dropped).

mod fields;
mod nodes;
mod steps;

use crate::error::{Error, Result};
use crate::model::emr::{ApiTag, Application, ClusterSpec, Instances, Placement};
use crate::template::{Node, parse_document};
use fields::Fields;
pub use steps::{ADD_USER_SCRIPT, STREAMING_JAR};

/// A cluster read from an edX cluster file.
#[derive(Debug, Clone, PartialEq)]
pub struct EdxCluster {
    /// The region the module would call (`us-east-1` by default).
    pub region: String,
    /// The RunJobFlow request.
    pub spec: ClusterSpec,
}

const KNOWN: &[&str] = &[
    "name",
    "region",
    "keypair_name",
    "vpc_subnet_id",
    "availability_zone",
    "log_uri",
    "release_label",
    "ami_version",
    "hadoop_version",
    "applications",
    "configurations",
    "instance_groups",
    "instance_fleets",
    "bootstrap_actions",
    "steps",
    "user_info",
    "job_flow_role",
    "role",
    "service_role",
    "visible_to_all_users",
    "tags",
    "ebs_root_volume_size",
    "ec2_attributes",
    "emr_managed_master_security_group",
    "emr_managed_slave_security_group",
    "additional_master_security_groups",
    "additional_slave_security_groups",
    "state",
];

/// The tag edX's module adds, carrying the cluster's name.
pub const EDX_NAME_TAG: &str = "ansible:emr:name";

/// Reads an edX cluster file into the request edX's module would send.
///
/// # Errors
/// [`Error::Parse`] for a document that is not YAML or JSON; [`Error::Validation`] naming
/// the field (`instance_groups.core.bidprice`) for an unknown field, a value of the wrong kind,
/// or what [`ClusterSpec::check`] refuses.
pub fn read_edx_cluster(text: &str) -> Result<EdxCluster> {
    let parsed = parse_document(text).map_err(|e| Error::parse("edX cluster file", e))?;
    let known: Vec<&str> = KNOWN.iter().chain(nodes::PLAYBOOK_NODES).copied().collect();
    let f = Fields::of(&parsed.root, "", &known)?;
    if f.text("state")?.is_some_and(|s| s != "present") {
        return Err(Error::validation("state", f.text("state")?.unwrap_or_default(), "present (a file that launches)"));
    }
    let name = f.text("name")?.ok_or_else(|| Error::validation("name", "", "required"))?;
    let mut spec = ClusterSpec {
        name: name.clone(),
        log_uri: f.text("log_uri")?,
        job_flow_role: Some(role(&f)?),
        service_role: Some(f.text("service_role")?.unwrap_or_else(|| "EMR_DefaultRole".into())),
        visible_to_all_users: Some(f.boolean("visible_to_all_users")?.unwrap_or(true)),
        instances: instances(&f)?,
        ebs_root_volume_size: f.number("ebs_root_volume_size")?,
        tags: tags(&f, &name)?,
        ..ClusterSpec::default()
    };
    release(&f, &mut spec)?;
    nodes::read(&f, &mut spec.instances)?;
    spec.bootstrap_actions = steps::bootstrap_actions(&f)?;
    spec.steps = steps::steps(&f)?;
    spec.steps.extend(steps::users(&f)?);
    spec.check()?;
    Ok(EdxCluster { region: f.text("region")?.unwrap_or_else(|| "us-east-1".into()), spec })
}

/// `job_flow_role`, or the playbook's `role` (`emr` by default).
fn role(f: &Fields<'_>) -> Result<String> {
    match (f.text("job_flow_role")?, f.text("role")?) {
        (Some(_), Some(r)) => Err(Error::validation("role", r, "give job_flow_role or role, not both")),
        (Some(r), None) | (None, Some(r)) => Ok(r),
        (None, None) => Ok("emr".into()),
    }
}

/// A release label wins over an AMI version (edX's rule); applications and configurations
/// go with a release label, applications as `NewSupportedProducts` with an AMI version.
fn release(f: &Fields<'_>, spec: &mut ClusterSpec) -> Result<()> {
    let applications = applications(f)?;
    let configurations = nodes::configurations(f, "configurations")?;
    match f.text("release_label")? {
        Some(label) => {
            spec.release_label = Some(label);
            spec.applications = applications;
            spec.configurations = configurations;
        }
        None => {
            spec.ami_version = Some(f.text("ami_version")?.unwrap_or_else(|| "2.4.11".into()));
            if !configurations.is_empty() {
                return Err(Error::validation("configurations", "set", "configurations need a release_label"));
            }
            if !applications.is_empty() {
                return Err(Error::validation(
                    "applications",
                    "set",
                    "applications of an AMI-versioned cluster (NewSupportedProducts) are not supported: give a release_label",
                ));
            }
        }
    }
    Ok(())
}

fn applications(f: &Fields<'_>) -> Result<Vec<Application>> {
    f.items("applications")?
        .into_iter()
        .map(|(at, node)| {
            let app = Fields::of(node, &at, &["name", "args"])?;
            let name = app.text("name")?.ok_or_else(|| Error::validation(app.path("name"), "", "required"))?;
            Ok(Application { name, args: app.texts("args", false)? })
        })
        .collect()
}

/// The key, network and security groups, `ec2_attributes` merged in; keep-alive on and
/// termination protection off, as the module sets them.
fn instances(f: &Fields<'_>) -> Result<Instances> {
    let mut i = Instances {
        ec2_key_name: f.text("keypair_name")?,
        keep_job_flow_alive_when_no_steps: Some(true),
        termination_protected: Some(false),
        hadoop_version: f.text("hadoop_version")?,
        emr_managed_master_security_group: f.text("emr_managed_master_security_group")?,
        emr_managed_slave_security_group: f.text("emr_managed_slave_security_group")?,
        additional_master_security_groups: f.texts("additional_master_security_groups", false)?,
        additional_slave_security_groups: f.texts("additional_slave_security_groups", false)?,
        ..Instances::default()
    };
    match (f.get("vpc_subnet_id"), f.text("availability_zone")?) {
        (Some(_), Some(zone)) => {
            return Err(Error::validation(
                "availability_zone",
                zone,
                "give vpc_subnet_id or availability_zone, not both",
            ));
        }
        (Some(Node::Seq(_)), None) => i.ec2_subnet_ids = f.texts("vpc_subnet_id", false)?,
        (Some(_), None) => i.ec2_subnet_id = f.text("vpc_subnet_id")?,
        (None, zone) => {
            i.placement = zone.map(|z| Placement { availability_zone: Some(z), availability_zones: Vec::new() })
        }
    }
    nodes::ec2_attributes(f, &mut i)?;
    Ok(i)
}

/// The file's tags (`[{Key, Value}]` or `[{key, value}]`) and the module's name tag.
fn tags(f: &Fields<'_>, name: &str) -> Result<Vec<ApiTag>> {
    let mut tags = Vec::new();
    for (at, node) in f.items("tags")? {
        let t = Fields::of(node, &at, &["Key", "Value", "key", "value"])?;
        let key = t.text("Key")?.or(t.text("key")?).ok_or_else(|| Error::validation(t.path("Key"), "", "required"))?;
        tags.push(ApiTag { key, value: t.text("Value")?.or(t.text("value")?).unwrap_or_default() });
    }
    tags.push(ApiTag { key: EDX_NAME_TAG.into(), value: name.into() });
    Ok(tags)
}

#[cfg(test)]
mod tests;
