//! One Task state of a workflow: its EMR call on the run's own cluster, and its wait. A step
//! is recorded before AddJobFlowSteps (which takes no idempotency token) and looked for on the
//! cluster before any second submission.

use super::Shared;
use super::workflow::Failure;
use crate::cloud::StepState;
use crate::error::{Error, Result};
use crate::import::states::{EmrCall, EmrRequest, Task};
use crate::lifecycle::{Actor, Phase, Resource};
use crate::model::PendingStep;
use crate::model::emr::Step;
use serde_json::{Value, json};
use std::sync::Arc;

type Outcome = std::result::Result<Value, Failure>;

impl Shared {
    /// Runs `task`, the state `name` of the run `r`: the result for the state's output, or
    /// a [`Failure`]; `Err` only for what stops the run itself (a store or cloud outage).
    pub(super) async fn run_task(self: &Arc<Self>, r: &Resource, name: &str, task: &Task) -> Result<Outcome> {
        let data = r.workflow.as_ref().map(|p| p.data.clone()).unwrap_or_default();
        let timeout = task.timeout_seconds.map_or(self.config.work_timeout, std::time::Duration::from_secs);
        let deadline = self.clock.now().plus(timeout);
        if task.call == EmrCall::CreateCluster {
            return self.cluster_up(r, task.sync, deadline).await;
        }
        let request = match task.request(name, &data) {
            Ok(request) => request,
            Err(e) => return Ok(Err(Failure { error: "States.Runtime".into(), cause: e.to_string() })),
        };
        let ours = r.cluster_id.clone().unwrap_or_default();
        let cluster = match &request {
            EmrRequest::AddStep { cluster_id, .. }
            | EmrRequest::TerminateCluster { cluster_id }
            | EmrRequest::SetTerminationProtection { cluster_id, .. } => cluster_id,
            EmrRequest::CreateCluster(_) => &ours,
        };
        if *cluster != ours {
            let cause = format!("cluster {cluster}: a workflow acts only on the cluster it launched ({ours})");
            return Ok(Err(Failure { error: "States.Runtime".into(), cause }));
        }
        match request {
            EmrRequest::AddStep { step, .. } => self.workflow_step(r, name, &step, task.sync, deadline).await,
            EmrRequest::TerminateCluster { .. } => self.terminate_run(r, task.sync, deadline).await,
            EmrRequest::SetTerminationProtection { protected, .. } => {
                self.cloud.set_termination_protection(&ours, protected).await?;
                Ok(Ok(json!({})))
            }
            EmrRequest::CreateCluster(_) => Ok(Ok(json!({}))),
        }
    }

    /// The run's cluster launched (the driver submits it): its id, once it is up when `sync`.
    async fn cluster_up(&self, r: &Resource, sync: bool, deadline: crate::clock::Timestamp) -> Result<Outcome> {
        loop {
            let r = self
                .store
                .get_resource(&r.id)
                .await?
                .ok_or_else(|| Error::NotFound { kind: "resource", name: r.id.to_string() })?;
            let up = matches!(r.phase, Phase::Running | Phase::Waiting);
            if let Some(id) = &r.cluster_id
                && (up || !sync)
            {
                return Ok(Ok(json!({"ClusterId": id})));
            }
            if r.phase.is_terminal() {
                let why = self.store.events(&r.id).await?.last().map(|e| e.reason.clone()).unwrap_or_default();
                return Ok(Err(Failure::task(format!("the cluster ended {}: {why}", r.phase))));
            }
            if let Err(e) = self.poll_until(deadline, "the cluster's start").await {
                return Ok(Err(Failure::timeout(e)));
            }
        }
    }

    /// Submits the step once (found again after a crash or a lost answer), then waits for
    /// it when `sync`: only COMPLETED succeeds.
    async fn workflow_step(
        &self,
        r: &Resource,
        name: &str,
        step: &Step,
        sync: bool,
        deadline: crate::clock::Timestamp,
    ) -> Result<Outcome> {
        let cluster = r.cluster_id.clone().unwrap_or_default();
        let pending = r.workflow.as_ref().and_then(|p| p.pending_step.clone()).filter(|p| p.state == name);
        let listed = self.cloud.list_steps(&cluster).await?;
        let found = pending.as_ref().and_then(|p| {
            p.id.clone()
                .or_else(|| listed.iter().find(|s| s.name == p.name && !p.known.contains(&s.id)).map(|s| s.id.clone()))
        });
        let step_id = match found {
            Some(id) => id,
            None => {
                let known = listed.iter().map(|s| s.id.clone()).collect();
                let record = PendingStep { state: name.to_string(), name: step.name.clone(), known, id: None };
                let r = self.update_workflow(r, |p| p.pending_step = Some(record.clone())).await?;
                let ids = self.cloud.add_steps(&cluster, std::slice::from_ref(step)).await?;
                let id =
                    ids.into_iter().next().ok_or_else(|| Error::Unavailable("AddJobFlowSteps: no step id".into()))?;
                let keep = id.clone();
                let r = self
                    .update_workflow(&r, |p| p.pending_step.iter_mut().for_each(|s| s.id = Some(keep.clone())))
                    .await?;
                self.note_latest(
                    &r.id,
                    Actor::Engine,
                    &format!("workflow state {name}: step {} ({id}) added", step.name),
                )
                .await?;
                id
            }
        };
        if !sync {
            return Ok(Ok(json!({"StepId": step_id})));
        }
        self.step_done(&cluster, &step_id, deadline).await
    }

    async fn step_done(&self, cluster: &str, step_id: &str, deadline: crate::clock::Timestamp) -> Result<Outcome> {
        loop {
            let steps = self.cloud.list_steps(cluster).await?;
            match steps.iter().find(|s| s.id == step_id) {
                Some(s) if s.state == StepState::Completed => {
                    return Ok(Ok(
                        json!({"StepId": step_id, "Step": {"Name": s.name, "Status": {"State": "COMPLETED"}}}),
                    ));
                }
                Some(s) if matches!(s.state, StepState::Failed | StepState::Cancelled | StepState::Interrupted) => {
                    let details = s.failure_details.as_deref().unwrap_or("no details");
                    let cause = format!("step {} ({step_id}) ended {:?}: {details}", s.name, s.state);
                    return Ok(Err(Failure::task(cause)));
                }
                _ => {}
            }
            if let Err(e) = self.poll_until(deadline, &format!("step {step_id}")).await {
                return Ok(Err(Failure::timeout(e)));
            }
        }
    }

    /// Terminates the run's cluster, waiting for it to end when `sync`.
    async fn terminate_run(
        self: &Arc<Self>,
        r: &Resource,
        sync: bool,
        deadline: crate::clock::Timestamp,
    ) -> Result<Outcome> {
        if let Err(e) = self.terminate_for_workflow(r, "terminated by its workflow").await {
            if e.is_retryable() {
                return Err(e);
            }
            return Ok(Err(Failure::task(e.to_string())));
        }
        loop {
            let current = self.store.get_resource(&r.id).await?;
            match current.as_ref().map(|c| &c.phase) {
                Some(Phase::Terminated) | None => return Ok(Ok(json!({}))),
                Some(phase) if phase.is_terminal() => {
                    let why = self.store.events(&r.id).await?.last().map(|e| e.reason.clone()).unwrap_or_default();
                    return Ok(Err(Failure::task(format!("the cluster ended {phase}, not terminated: {why}"))));
                }
                _ if !sync => return Ok(Ok(json!({}))),
                _ => {}
            }
            if let Err(e) = self.poll_until(deadline, "the cluster's termination").await {
                return Ok(Err(Failure::timeout(e)));
            }
        }
    }
}
