//! EMR: clusters (from RunJobFlow or a stack), their steps and idle auto-termination.

use super::faults::unit;
use super::journal::Mutation;
use super::objects::{SimCluster, SimStep, SimTags, Timeline};
use super::{SimCloud, State, ip, page};
use crate::clock::Timestamp;
use crate::cloud::{ClusterInfo, ClusterState, InstanceGroupInfo, Page, StepInfo, StepState};
use crate::error::{Error, Result};
use crate::model::emr::Step;
use crate::model::{ClusterSpec, LAUNCH_ID_TAG, Tag};
use std::ops::Bound;
use std::time::Duration;

impl SimCloud {
    /// A new cluster, STARTING now and WAITING once ready (or failing, when doomed).
    pub(super) fn new_cluster(
        &self,
        st: &mut State,
        name: &str,
        tags: SimTags,
        nodes: u32,
        doomed: bool,
        now: Timestamp,
    ) -> String {
        let n = st.next();
        let id = format!("j-{n:013X}");
        let ready = self.config.timings.cluster_ready;
        let state = if doomed {
            Timeline(vec![(now, ClusterState::Starting), (now.plus(ready / 2), ClusterState::TerminatedWithErrors)])
        } else {
            Timeline(vec![
                (now, ClusterState::Starting),
                (now.plus(ready / 2), ClusterState::Bootstrapping),
                (now.plus(ready * 4 / 5), ClusterState::Running),
                (now.plus(ready), ClusterState::Waiting),
            ])
        };
        let cluster = SimCluster {
            id: id.clone(),
            name: name.to_string(),
            tags,
            master_ip: ip(n),
            nodes,
            state,
            steps: Vec::new(),
            idle_timeout: None,
            protected: false,
            groups: Vec::new(),
        };
        st.clusters.insert(id.clone(), cluster);
        id
    }

    /// A cluster's state now, with idle auto-termination applied.
    pub(super) fn cluster_state(&self, c: &SimCluster, now: Timestamp) -> (ClusterState, Option<String>) {
        let state = c.state.at(now).unwrap_or(ClusterState::Starting);
        if state == ClusterState::TerminatedWithErrors {
            return (state, Some("Bootstrap failure (simulated)".into()));
        }
        if let (ClusterState::Waiting, Some(idle)) = (state, c.idle_timeout) {
            let waiting_since = c.state.0.iter().rev().find(|(_, s)| *s == ClusterState::Waiting).map(|(t, _)| *t);
            let last_step = c.steps.last().map(|s| s.added.plus(self.config.timings.step));
            if let Some(since) = waiting_since.max(last_step)
                && now >= since.plus(idle)
            {
                return (ClusterState::Terminated, Some("idle timeout (auto-termination)".into()));
            }
        }
        (state, None)
    }

    fn cluster_info(&self, c: &SimCluster, now: Timestamp) -> ClusterInfo {
        let (state, state_reason) = self.cluster_state(c, now);
        ClusterInfo {
            id: c.id.clone(),
            name: c.name.clone(),
            state,
            state_reason,
            master_private_ip: (state != ClusterState::Starting).then(|| c.master_ip.clone()),
            tags: c.tags.to_vec(),
        }
    }

    fn push_steps(&self, st: &mut State, cluster_id: &str, steps: &[Step], now: Timestamp) -> Result<Vec<String>> {
        let (seed, rate) = (self.config.seed, self.config.fail_step_rate);
        let mut ids = Vec::new();
        let mut new_steps = Vec::new();
        for s in steps {
            let n = st.next();
            let id = format!("s-{n:013X}");
            let fails = unit(seed, &["step", cluster_id, &s.name], 0) < rate;
            let (args, action) = (s.hadoop_jar_step.args.clone(), s.action_on_failure);
            new_steps.push(SimStep { id: id.clone(), name: s.name.clone(), added: now, fails, args, action });
            ids.push(id);
        }
        let c = st
            .clusters
            .get_mut(cluster_id)
            .ok_or_else(|| Error::NotFound { kind: "cluster", name: cluster_id.into() })?;
        if c.state.at(now).is_some_and(ClusterState::is_terminated) {
            return Err(Error::validation("JobFlowId", cluster_id, "the cluster is terminated"));
        }
        c.steps.extend(new_steps);
        Ok(ids)
    }
}

/// Terminates a cluster with its stack: terminated after `takes`.
pub(super) fn shut_down(st: &mut State, id: &str, now: Timestamp, takes: Duration) {
    if let Some(c) = st.clusters.get_mut(id)
        && !c.state.at(now).is_some_and(ClusterState::is_terminated)
    {
        c.state.then(now, &[(Duration::ZERO, ClusterState::Terminating), (takes, ClusterState::Terminated)]);
    }
}

pub(super) async fn run_job_flow(sim: &SimCloud, spec: &ClusterSpec) -> Result<String> {
    sim.mutate(
        "RunJobFlow",
        &spec.name,
        || Mutation::RunJobFlow(Box::new(spec.clone())),
        |st, now| {
            let launch =
                spec.tags.iter().find(|t| t.key == LAUNCH_ID_TAG).map_or(spec.name.clone(), |t| t.value.clone());
            let doomed = sim.doom(&launch, false).is_some();
            let tags = SimTags::new(spec.tags.iter().map(Tag::from).collect(), &mut st.tag_lists);
            let id = sim.new_cluster(st, &spec.name, tags, spec.node_count(), doomed, now);
            *st.created_per_token.entry(launch).or_default() += 1;
            let groups = spec.instances.instance_groups.iter().enumerate().map(|(k, g)| InstanceGroupInfo {
                id: format!("ig-{id}-{k}"),
                role: g.instance_role,
                instance_type: g.instance_type.clone(),
                requested: g.instance_count,
            });
            let groups = groups.collect();
            if let Some(c) = st.clusters.get_mut(&id) {
                c.idle_timeout = spec.auto_termination_policy.map(|p| Duration::from_secs(p.idle_timeout));
                c.groups = groups;
            }
            if !spec.steps.is_empty() {
                sim.push_steps(st, &id, &spec.steps, now)?;
            }
            Ok(id)
        },
    )
    .await
}

pub(super) async fn describe_cluster(sim: &SimCloud, id: &str) -> Result<Option<ClusterInfo>> {
    sim.read("DescribeCluster", id, |st, now| Ok(st.clusters.get(id).map(|c| sim.cluster_info(c, now)))).await
}

pub(super) async fn list_clusters(
    sim: &SimCloud,
    states: &[ClusterState],
    next: Option<String>,
) -> Result<Page<ClusterInfo>> {
    sim.read("ListClusters", next.as_deref().unwrap_or(""), |st, now| {
        let from = next.as_deref().map_or(Bound::Unbounded, |n| Bound::Excluded(n.to_string()));
        let wanted = |c: &&SimCluster| states.is_empty() || states.contains(&sim.cluster_state(c, now).0);
        let listed = st.clusters.range((from, Bound::Unbounded)).map(|(_, c)| c).filter(wanted);
        // As EMR's ListClusters: summaries, without tags or the master's address.
        let summary =
            |c: &SimCluster| ClusterInfo { tags: Vec::new(), master_private_ip: None, ..sim.cluster_info(c, now) };
        let (items, last) = page(listed.map(|c| (c.id.clone(), summary(c))), 50);
        Ok(Page { items, next: last })
    })
    .await
}

pub(super) async fn add_steps(sim: &SimCloud, cluster_id: &str, steps: &[Step]) -> Result<Vec<String>> {
    let call = || Mutation::AddSteps(cluster_id.to_string(), steps.to_vec());
    sim.mutate("AddJobFlowSteps", cluster_id, call, |st, now| sim.push_steps(st, cluster_id, steps, now)).await
}

pub(super) async fn list_steps(sim: &SimCloud, cluster_id: &str) -> Result<Vec<StepInfo>> {
    sim.read("ListSteps", cluster_id, |st, now| {
        let c =
            st.clusters.get(cluster_id).ok_or_else(|| Error::NotFound { kind: "cluster", name: cluster_id.into() })?;
        let states = c.step_states(now, sim.config.timings.step);
        Ok(c.steps
            .iter()
            .zip(states)
            .rev()
            .map(|(s, state)| StepInfo {
                id: s.id.clone(),
                name: s.name.clone(),
                state,
                failure_details: (state == StepState::Failed)
                    .then(|| format!("step {} exited with status 1 (simulated)", s.name)),
            })
            .collect())
    })
    .await
}

pub(super) async fn terminate_clusters(sim: &SimCloud, ids: &[String]) -> Result<()> {
    sim.mutate(
        "TerminateJobFlows",
        &ids.join(","),
        || Mutation::TerminateClusters(ids.to_vec()),
        |st, now| {
            let half = sim.config.timings.stack_delete / 2;
            for id in ids {
                let c = st
                    .clusters
                    .get_mut(id)
                    .ok_or_else(|| Error::validation("JobFlowIds", id.as_str(), "no such cluster"))?;
                if c.protected && !c.state.at(now).is_some_and(ClusterState::is_terminated) {
                    return Err(Error::validation(
                        "JobFlowIds",
                        id.as_str(),
                        "could not shut down the job flow since it is termination protected",
                    ));
                }
                if matches!(c.state.at(now), Some(ClusterState::Terminating | ClusterState::Terminated)) {
                    st.double_actions += 1;
                } else if !c.state.at(now).is_some_and(ClusterState::is_terminated) {
                    c.state.then(now, &[(Duration::ZERO, ClusterState::Terminating), (half, ClusterState::Terminated)]);
                }
            }
            Ok(())
        },
    )
    .await
}

pub(super) async fn set_auto_termination(sim: &SimCloud, cluster_id: &str, idle: Duration) -> Result<()> {
    let call = || Mutation::SetAutoTermination(cluster_id.to_string(), idle.as_secs());
    sim.mutate("PutAutoTerminationPolicy", cluster_id, call, |st, _| {
        let c = st
            .clusters
            .get_mut(cluster_id)
            .ok_or_else(|| Error::NotFound { kind: "cluster", name: cluster_id.into() })?;
        c.idle_timeout = Some(idle);
        Ok(())
    })
    .await
}

pub(super) async fn set_termination_protection(sim: &SimCloud, cluster_id: &str, protected: bool) -> Result<()> {
    let call = || Mutation::SetTerminationProtection(cluster_id.to_string(), protected);
    sim.mutate("SetTerminationProtection", cluster_id, call, |st, _| {
        let c = st
            .clusters
            .get_mut(cluster_id)
            .ok_or_else(|| Error::validation("JobFlowIds", cluster_id, "no such cluster"))?;
        c.protected = protected;
        Ok(())
    })
    .await
}

pub(super) async fn list_instance_groups(sim: &SimCloud, cluster_id: &str) -> Result<Vec<InstanceGroupInfo>> {
    sim.read("ListInstanceGroups", cluster_id, |st, _| {
        let c =
            st.clusters.get(cluster_id).ok_or_else(|| Error::validation("ClusterId", cluster_id, "no such cluster"))?;
        Ok(c.groups.clone())
    })
    .await
}

/// ModifyInstanceGroups: a running cluster's group gets `count` nodes.
pub(super) async fn resize_instance_group(sim: &SimCloud, cluster_id: &str, group_id: &str, count: u32) -> Result<()> {
    let call = || Mutation::ResizeInstanceGroup(cluster_id.to_string(), group_id.to_string(), count);
    sim.mutate("ModifyInstanceGroups", group_id, call, |st, now| {
        let c = st
            .clusters
            .get_mut(cluster_id)
            .ok_or_else(|| Error::validation("ClusterId", cluster_id, "no such cluster"))?;
        if !matches!(c.state.at(now), Some(ClusterState::Running | ClusterState::Waiting)) {
            return Err(Error::validation("ClusterId", cluster_id, "the cluster is not running"));
        }
        let g = c
            .groups
            .iter_mut()
            .find(|g| g.id == group_id)
            .ok_or_else(|| Error::validation("InstanceGroupId", group_id, "no such instance group"))?;
        c.nodes = (c.nodes + count).saturating_sub(g.requested);
        g.requested = count;
        Ok(())
    })
    .await
}
