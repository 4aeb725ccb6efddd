//! EMR specifics: clusters launched with RunJobFlow (no idempotency token, so the launch's
//! tag is looked for before every submission), steps, and deployments through SSM.

use super::driver::Flow;
use super::{Engine, Shared};
use crate::cloud::{ClusterInfo, StepInfo, StepState};
use crate::deploy::{DeployReport, Deployment};
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, Event, Phase, Resource, ResourceKind};
use crate::model::emr::Step;
use crate::model::{LAUNCH_ID_TAG, LaunchId, Principal};
use std::time::Duration;

impl Shared {
    /// The cluster a launch already submitted, if any: ListClusters (every state, since a
    /// cluster that died young still counts) narrowed by name, then DescribeCluster for the
    /// launch-id tag (ListClusters gives no tags).
    pub(super) async fn find_submitted(&self, r: &Resource) -> Result<Option<ClusterInfo>> {
        let Some(spec) = &r.job_flow else { return Ok(None) };
        let mut next = None;
        loop {
            let page = self.cloud.list_clusters(&[], next).await?;
            for candidate in page.items.iter().filter(|c| c.name == spec.name) {
                if let Some(info) = self.cloud.describe_cluster(&candidate.id).await?
                    && info.tags.iter().any(|t| t.key == LAUNCH_ID_TAG && t.value == r.id.as_str())
                {
                    return Ok(Some(info));
                }
            }
            next = page.next;
            if next.is_none() {
                return Ok(None);
            }
        }
    }

    /// Submits the launch's job flow unless it was submitted before, then moves on to
    /// Starting with the cluster's id.
    pub(super) async fn submitting_job_flow(&self, r: &Resource) -> Result<Flow> {
        let Some(spec) = &r.job_flow else {
            self.fail(r, "no job flow to submit").await?;
            return Ok(Flow::Again);
        };
        let (cluster_id, how) = match self.find_submitted(r).await? {
            Some(found) => (found.id, "adopted after a restart or a lost answer"),
            None => match self.cloud.run_job_flow(spec).await {
                Ok(id) => (id, "submitted"),
                Err(e) if e.is_retryable() => return Err(e),
                Err(e) => {
                    self.fail(r, format!("RunJobFlow refused: {e}")).await?;
                    return Ok(Flow::Again);
                }
            },
        };
        let deadline = self.clock.now().plus(self.config.provision_timeout);
        let reason = format!("cluster {cluster_id} {how}");
        self.transition(r, Event::StackCreated, Actor::Engine, reason, |n| {
            n.cluster_id = Some(cluster_id);
            n.deadline = Some(deadline);
        })
        .await?;
        Ok(Flow::Again)
    }

    /// Terminates the launch's cluster and waits for it to go; `true` once it is gone.
    pub(super) async fn remove_cluster(&self, r: &Resource) -> Result<bool> {
        let cluster_id = match &r.cluster_id {
            Some(id) => id.clone(),
            // Submitted by a call whose answer was lost, or never: look for it.
            None => match self.find_submitted(r).await? {
                Some(found) => {
                    self.update(r, |n| n.cluster_id = Some(found.id.clone())).await?;
                    found.id
                }
                None => return Ok(true),
            },
        };
        match self.cloud.describe_cluster(&cluster_id).await? {
            None => Ok(true),
            Some(info) if info.state.is_terminated() => Ok(true),
            Some(info) if info.state == crate::cloud::ClusterState::Terminating => Ok(false),
            Some(_) => {
                self.cloud.terminate_clusters(std::slice::from_ref(&cluster_id)).await?;
                Ok(false)
            }
        }
    }

    /// The cluster of `id` if `principal` may act on it and it takes work.
    async fn usable_cluster(&self, principal: &Principal, id: &LaunchId) -> Result<(Resource, String)> {
        self.alive()?;
        let r = self.stored_for(principal, id).await?;
        match (&r.kind, &r.phase, &r.cluster_id) {
            (ResourceKind::Cluster, Phase::Running | Phase::Waiting, Some(cluster)) => {
                let cluster = cluster.clone();
                Ok((r, cluster))
            }
            _ => Err(Error::validation("resource", id.as_str(), format!("not a running cluster ({})", r.phase))),
        }
    }

    /// Sleeps a poll interval, or fails once `deadline` has passed.
    pub(super) async fn poll_until(&self, deadline: crate::clock::Timestamp, what: &str) -> Result<()> {
        let now = self.clock.now();
        if now >= deadline {
            return Err(Error::Unavailable(format!("{what} did not finish in time")));
        }
        self.clock.sleep(self.config.command_poll.min(deadline.since(now))).await;
        Ok(())
    }
}

impl Engine {
    /// Adds steps to a running cluster and waits for each to reach COMPLETED; a FAILED,
    /// CANCELLED or INTERRUPTED step ends the wait with its failure details.
    ///
    /// # Errors
    /// [`Error::Forbidden`] as for [`Engine::act`]; [`Error::Validation`] unless the resource
    /// is a running cluster or for a step without a name or jar; [`Error::Backend`] naming a
    /// failed step; [`Error::Unavailable`] after `EngineConfig::work_timeout`.
    pub async fn run_steps(&self, principal: &Principal, id: &LaunchId, steps: Vec<Step>) -> Result<Vec<StepInfo>> {
        for (i, s) in steps.iter().enumerate() {
            if s.name.trim().is_empty() || s.hadoop_jar_step.jar.trim().is_empty() {
                return Err(Error::validation(format!("steps[{i}]"), &s.name, "a step needs a name and a jar"));
            }
        }
        let inner = &self.inner;
        let (r, cluster) = inner.usable_cluster(principal, id).await?;
        let ids = inner.cloud.add_steps(&cluster, &steps).await?;
        let names = steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
        let actor = Actor::User(principal.username.clone());
        inner.note_latest(&r.id, actor, &format!("steps added by {}: {names}", principal.username)).await?;
        let deadline = inner.clock.now().plus(inner.config.work_timeout);
        loop {
            let ours: Vec<StepInfo> =
                inner.cloud.list_steps(&cluster).await?.into_iter().filter(|s| ids.contains(&s.id)).collect();
            if let Some(bad) = ours
                .iter()
                .find(|s| matches!(s.state, StepState::Failed | StepState::Cancelled | StepState::Interrupted))
            {
                let details = bad.failure_details.as_deref().unwrap_or("no details");
                let why = format!("step {} ({}) ended {:?}: {details}", bad.name, bad.id, bad.state);
                inner.note_latest(id, Actor::Engine, &why).await?;
                let (step, reason) = (format!("{} ({})", bad.name, bad.id), format!("{:?}: {details}", bad.state));
                return Err(Error::StepFailed { cluster: cluster.clone(), step, reason });
            }
            if ours.len() == ids.len() && ours.iter().all(|s| s.state == StepState::Completed) {
                return Ok(ours);
            }
            inner.poll_until(deadline, "the steps").await?;
        }
    }

    /// Runs a [`Deployment`] on every node of a running cluster through SSM and waits for
    /// every node's final status.
    ///
    /// # Errors
    /// As [`Engine::run_steps`] (except step failures: a node's failure is in the report).
    pub async fn deploy(&self, principal: &Principal, id: &LaunchId, deployment: &Deployment) -> Result<DeployReport> {
        let inner = &self.inner;
        deployment.check()?;
        let (r, cluster) = inner.usable_cluster(principal, id).await?;
        let command_id = inner.cloud.send_command(&deployment.command(&cluster)).await?;
        let what = deployment.describe();
        let actor = Actor::User(principal.username.clone());
        let reason = format!("{what} deployed by {} (command {command_id})", principal.username);
        inner.note_latest(&r.id, actor, &reason).await?;
        let deadline = inner.clock.now().plus(inner.config.work_timeout);
        loop {
            let nodes = inner.cloud.command_invocations(&command_id).await?;
            if !nodes.is_empty() && nodes.iter().all(|n| n.status.is_final()) {
                let report = DeployReport { command_id, nodes };
                let outcome = if report.succeeded() { "succeeded" } else { "failed on some nodes" };
                inner.note_latest(id, Actor::Engine, &format!("{what}: {outcome}")).await?;
                return Ok(report);
            }
            inner.poll_until(deadline, "the deployment").await?;
        }
    }
}

/// How often steps and commands are polled, unless the config says otherwise.
pub(super) const DEFAULT_COMMAND_POLL: Duration = Duration::from_secs(5);
