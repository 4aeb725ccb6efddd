//! EMR: clusters and steps.

use super::errors::{Outcome, classify, map, outcome};
use aws_sdk_emr::Client;
use aws_sdk_emr::types::{
    AutoTerminationPolicy, ClusterState as Emr, InstanceGroupModifyConfig, InstanceGroupType, StepState as EmrStep,
};
use mliy_core::cloud::{ClusterInfo, ClusterState, InstanceGroupInfo, Page, StepInfo, StepState};
use mliy_core::model::emr::InstanceRole;
use mliy_core::model::emr::Step;
use mliy_core::model::{ClusterSpec, Tag as MliyTag};
use mliy_core::{Error, Result};
use std::time::Duration;

fn to_emr(state: ClusterState) -> Emr {
    match state {
        ClusterState::Starting => Emr::Starting,
        ClusterState::Bootstrapping => Emr::Bootstrapping,
        ClusterState::Running => Emr::Running,
        ClusterState::Waiting => Emr::Waiting,
        ClusterState::Terminating => Emr::Terminating,
        ClusterState::Terminated => Emr::Terminated,
        ClusterState::TerminatedWithErrors => Emr::TerminatedWithErrors,
    }
}

fn from_emr(state: Option<&Emr>) -> Result<ClusterState> {
    Ok(match state {
        Some(Emr::Starting) => ClusterState::Starting,
        Some(Emr::Bootstrapping) => ClusterState::Bootstrapping,
        Some(Emr::Running) => ClusterState::Running,
        Some(Emr::Waiting) => ClusterState::Waiting,
        Some(Emr::Terminating) => ClusterState::Terminating,
        Some(Emr::Terminated) => ClusterState::Terminated,
        Some(Emr::TerminatedWithErrors) => ClusterState::TerminatedWithErrors,
        other => return Err(Error::Unavailable(format!("EMR: unknown cluster state {other:?}"))),
    })
}

pub(crate) async fn run_job_flow(client: &Client, spec: &ClusterSpec) -> Result<String> {
    let call = super::emr_request::run_job_flow(client.run_job_flow(), spec);
    let out = call.send().await.map_err(|e| map("RunJobFlow", e))?;
    out.job_flow_id.ok_or_else(|| Error::Unavailable("RunJobFlow: answer without a cluster id".into()))
}

/// EMR answers an unknown cluster id with an InvalidRequestException.
fn is_missing(f: &super::errors::Failure) -> bool {
    f.code() == "InvalidRequestException" || f.code() == "ResourceNotFoundException"
}

pub(crate) async fn describe_cluster(client: &Client, id: &str) -> Result<Option<ClusterInfo>> {
    let cluster = match client.describe_cluster().cluster_id(id).send().await {
        Ok(out) => match out.cluster {
            Some(c) => c,
            None => return Ok(None),
        },
        Err(err) => {
            return match outcome("DescribeCluster", err) {
                Outcome::Service(f) if is_missing(&f) => Ok(None),
                Outcome::Service(f) => Err(classify("DescribeCluster", &f)),
                Outcome::Other(e) => Err(e),
            };
        }
    };
    let status = cluster.status.as_ref();
    let state = from_emr(status.and_then(|s| s.state.as_ref()))?;
    let master_private_ip = match state {
        ClusterState::Running | ClusterState::Waiting => master_ip(client, id).await?,
        _ => None,
    };
    Ok(Some(ClusterInfo {
        id: cluster.id.clone().unwrap_or_else(|| id.to_string()),
        name: cluster.name.clone().unwrap_or_default(),
        state,
        state_reason: status.and_then(|s| s.state_change_reason.as_ref()).and_then(|r| r.message.clone()),
        master_private_ip,
        tags: cluster
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| MliyTag::new(t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect(),
    }))
}

/// ListInstances of the MASTER group: DescribeCluster names the master only by DNS name.
async fn master_ip(client: &Client, id: &str) -> Result<Option<String>> {
    let out = client
        .list_instances()
        .cluster_id(id)
        .instance_group_types(InstanceGroupType::Master)
        .send()
        .await
        .map_err(|e| map("ListInstances", e))?;
    Ok(out.instances.unwrap_or_default().into_iter().find_map(|i| i.private_ip_address))
}

/// ListClusters; its summaries carry no tags (DescribeCluster has them).
pub(crate) async fn list_clusters(
    client: &Client,
    states: &[ClusterState],
    next: Option<String>,
) -> Result<Page<ClusterInfo>> {
    let wanted = (!states.is_empty()).then(|| states.iter().copied().map(to_emr).collect());
    let out = client
        .list_clusters()
        .set_cluster_states(wanted)
        .set_marker(next)
        .send()
        .await
        .map_err(|e| map("ListClusters", e))?;
    let items = out
        .clusters
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let status = c.status.as_ref();
            Ok(ClusterInfo {
                id: c.id.clone().unwrap_or_default(),
                name: c.name.clone().unwrap_or_default(),
                state: from_emr(status.and_then(|s| s.state.as_ref()))?,
                state_reason: status.and_then(|s| s.state_change_reason.as_ref()).and_then(|r| r.message.clone()),
                master_private_ip: None,
                tags: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page { items, next: out.marker.filter(|m| !m.is_empty()) })
}

pub(crate) async fn add_steps(client: &Client, cluster_id: &str, steps: &[Step]) -> Result<Vec<String>> {
    let configs = steps.iter().map(super::emr_request::step).collect();
    let out = client
        .add_job_flow_steps()
        .job_flow_id(cluster_id)
        .set_steps(Some(configs))
        .send()
        .await
        .map_err(|e| map("AddJobFlowSteps", e))?;
    Ok(out.step_ids.unwrap_or_default())
}

fn step_state(s: Option<&EmrStep>) -> Result<StepState> {
    Ok(match s {
        Some(EmrStep::Pending) => StepState::Pending,
        Some(EmrStep::Running) => StepState::Running,
        Some(EmrStep::Completed) => StepState::Completed,
        Some(EmrStep::Cancelled | EmrStep::CancelPending) => StepState::Cancelled,
        Some(EmrStep::Failed) => StepState::Failed,
        Some(EmrStep::Interrupted) => StepState::Interrupted,
        other => return Err(Error::Unavailable(format!("ListSteps: unknown step state {other:?}"))),
    })
}

pub(crate) async fn list_steps(client: &Client, cluster_id: &str) -> Result<Vec<StepInfo>> {
    let mut steps = Vec::new();
    let mut marker = None;
    loop {
        let out = client
            .list_steps()
            .cluster_id(cluster_id)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| map("ListSteps", e))?;
        for s in out.steps.unwrap_or_default() {
            let status = s.status.as_ref();
            let failure = status.and_then(|st| st.failure_details.as_ref()).map(|f| {
                [f.reason.as_deref(), f.message.as_deref(), f.log_file.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            steps.push(StepInfo {
                id: s.id.clone().unwrap_or_default(),
                name: s.name.clone().unwrap_or_default(),
                state: step_state(status.and_then(|st| st.state.as_ref()))?,
                failure_details: failure.filter(|f| !f.is_empty()),
            });
        }
        marker = out.marker.filter(|m| !m.is_empty());
        if marker.is_none() {
            return Ok(steps);
        }
    }
}

pub(crate) async fn terminate_clusters(client: &Client, ids: &[String]) -> Result<()> {
    client
        .terminate_job_flows()
        .set_job_flow_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| map("TerminateJobFlows", e))?;
    Ok(())
}

pub(crate) async fn set_auto_termination(client: &Client, cluster_id: &str, idle: Duration) -> Result<()> {
    let policy = AutoTerminationPolicy::builder().idle_timeout(idle.as_secs() as i64).build();
    client
        .put_auto_termination_policy()
        .cluster_id(cluster_id)
        .auto_termination_policy(policy)
        .send()
        .await
        .map_err(|e| map("PutAutoTerminationPolicy", e))?;
    Ok(())
}

pub(crate) async fn set_termination_protection(client: &Client, cluster_id: &str, protected: bool) -> Result<()> {
    client
        .set_termination_protection()
        .job_flow_ids(cluster_id)
        .termination_protected(protected)
        .send()
        .await
        .map_err(|e| map("SetTerminationProtection", e))?;
    Ok(())
}

pub(crate) async fn list_instance_groups(client: &Client, cluster_id: &str) -> Result<Vec<InstanceGroupInfo>> {
    let mut groups = Vec::new();
    let mut marker = None;
    loop {
        let out = client
            .list_instance_groups()
            .cluster_id(cluster_id)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| map("ListInstanceGroups", e))?;
        for g in out.instance_groups.unwrap_or_default() {
            let role = match g.instance_group_type {
                Some(InstanceGroupType::Master) => InstanceRole::Master,
                Some(InstanceGroupType::Core) => InstanceRole::Core,
                _ => InstanceRole::Task,
            };
            groups.push(InstanceGroupInfo {
                id: g.id.unwrap_or_default(),
                role,
                instance_type: g.instance_type.unwrap_or_default(),
                requested: g.requested_instance_count.and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            });
        }
        marker = out.marker;
        if marker.is_none() {
            return Ok(groups);
        }
    }
}

pub(crate) async fn resize_instance_group(client: &Client, cluster_id: &str, group_id: &str, count: u32) -> Result<()> {
    let change = InstanceGroupModifyConfig::builder()
        .instance_group_id(group_id)
        .instance_count(i32::try_from(count).unwrap_or(i32::MAX))
        .build();
    client
        .modify_instance_groups()
        .cluster_id(cluster_id)
        .instance_groups(change)
        .send()
        .await
        .map_err(|e| map("ModifyInstanceGroups", e))?;
    Ok(())
}
