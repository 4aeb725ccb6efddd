//! Step Functions state machines that call EMR, run by the engine: the first state's cluster
//! is launched like any job flow (stored first, found again after a crash), then each state
//! runs in turn, its progress stored with the cluster before each call, so a run resumes
//! where it stopped: no second cluster, no step submitted twice.

use super::{Engine, access};
use crate::error::{Error, Result};
use crate::import::states::{EmrCall, StateKind, Task, Workflow, read_workflow, resolve, write_path};
use crate::lifecycle::{Actor, LifecycleEvent, Phase, Resource, ResourceKind};
use crate::model::emr::{ApiTag, ClusterSpec, InstanceRole};
use crate::model::{LAUNCH_ID_TAG, LaunchId, MANAGED_TAG, Principal, StackSpec, WorkflowOutcome, WorkflowProgress};
use serde_json::{Value, json};
use std::sync::Arc;

/// How a workflow runs.
#[derive(Debug, Clone, Default)]
pub struct WorkflowOptions {
    /// Terminate the cluster when the run fails.
    pub terminate_on_failure: bool,
}

/// A workflow run as it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowReport {
    /// The run (the cluster's launch id).
    pub id: LaunchId,
    /// The cluster, once launched.
    pub cluster_id: Option<String>,
    /// How it ended.
    pub outcome: WorkflowOutcome,
    /// The last state's output.
    pub output: Value,
}

/// A state that failed: the error name and its cause, as Step Functions reports them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Failure {
    pub(super) error: String,
    pub(super) cause: String,
}

impl Failure {
    pub(super) fn task(cause: impl Into<String>) -> Failure {
        Failure { error: "States.TaskFailed".into(), cause: cause.into() }
    }

    /// A deadline passed (`poll_until`'s refusal says what did not finish).
    pub(super) fn timeout(e: Error) -> Failure {
        Failure { error: "States.Timeout".into(), cause: e.to_string() }
    }
}

/// The state that launches the cluster: the first, and the only `createCluster`.
fn cluster_task(w: &Workflow) -> Result<&Task> {
    for s in &w.states {
        if let StateKind::Task(t) = &s.kind
            && t.call == EmrCall::CreateCluster
            && s.name != w.start_at
        {
            return Err(Error::validation(
                format!("States.{}.Resource", s.name),
                "createCluster",
                "a workflow launches one cluster, in its first state",
            ));
        }
    }
    match w.state(&w.start_at).map(|s| &s.kind) {
        Some(StateKind::Task(t)) if t.call == EmrCall::CreateCluster => Ok(t),
        _ => Err(Error::validation("StartAt", &w.start_at, "the first state launches the cluster (createCluster)")),
    }
}

/// The master's instance type, for the record.
fn master_type(spec: &ClusterSpec) -> String {
    let i = &spec.instances;
    let group = i.instance_groups.iter().find(|g| g.instance_role == InstanceRole::Master).map(|g| &g.instance_type);
    let fleet = i.instance_fleets.iter().find(|f| f.instance_fleet_type == InstanceRole::Master);
    group.or(fleet.and_then(|f| f.instance_type_configs.first().map(|t| &t.instance_type))).cloned().unwrap_or_default()
}

impl Engine {
    /// Stores a workflow run under `group_config` (its quotas, budget and cost center) and
    /// starts its cluster; [`Engine::run_workflow`] runs the rest. Admins only: a state
    /// machine chooses its own network, roles and nodes.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for anyone but an admin or over a quota; [`Error::Validation`]
    /// naming the state and field for a document mliy does not run, or a request EMR would
    /// refuse; [`Error::NotFound`] for an unknown group config.
    pub async fn start_workflow(
        &self,
        admin: &Principal,
        group_config: &str,
        document: &str,
        input: Value,
        options: WorkflowOptions,
    ) -> Result<LaunchId> {
        let inner = &self.inner;
        inner.alive()?;
        access::admin(admin, "run workflows")?;
        let workflow = read_workflow(document)?;
        let crate::import::states::EmrRequest::CreateCluster(spec) =
            cluster_task(&workflow)?.request(&workflow.start_at, &input)?
        else {
            return Err(Error::validation("StartAt", &workflow.start_at, "the first state launches the cluster"));
        };
        let progress = WorkflowProgress {
            document: document.to_string(),
            state: Some(workflow.start_at.clone()),
            data: input,
            attempts: 0,
            pending_step: None,
            terminate_on_failure: options.terminate_on_failure,
            outcome: None,
        };
        let what = format!("workflow {:?}", workflow.comment.as_deref().unwrap_or(""));
        self.insert_cluster_spec(admin, group_config, *spec, Some(progress), &what).await
    }

    /// Launches a cluster from a full RunJobFlow request (an edX cluster file's, say) under
    /// `group_config` (its quotas, budget and cost center). Admins only: the request chooses
    /// its own network, roles and nodes.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for anyone but an admin or over a quota; [`Error::Validation`]
    /// for what [`ClusterSpec::check`] refuses; [`Error::NotFound`] for an unknown group config.
    pub async fn launch_cluster_spec(
        &self,
        admin: &Principal,
        group_config: &str,
        spec: ClusterSpec,
    ) -> Result<LaunchId> {
        self.inner.alive()?;
        access::admin(admin, "launch clusters from a RunJobFlow request")?;
        self.insert_cluster_spec(admin, group_config, spec, None, "RunJobFlow request").await
    }

    async fn insert_cluster_spec(
        &self,
        admin: &Principal,
        group_config: &str,
        mut spec: ClusterSpec,
        workflow: Option<WorkflowProgress>,
        what: &str,
    ) -> Result<LaunchId> {
        let inner = &self.inner;
        let group = inner.planner.catalog().group_config(group_config)?;
        let id = LaunchId::new_random();
        spec.tags.push(ApiTag { key: LAUNCH_ID_TAG.into(), value: id.to_string() });
        spec.tags.push(ApiTag { key: MANAGED_TAG.0.into(), value: MANAGED_TAG.1.into() });
        spec.check()?;
        let now = inner.clock.now();
        let stack = StackSpec {
            name: spec.name.clone(),
            template_body: std::sync::Arc::from(""),
            parameters: Vec::new(),
            tags: Vec::new(),
            client_request_token: id.to_string(),
        };
        let resource = Resource {
            owner: admin.username.clone(),
            owner_groups: admin.groups.clone(),
            group_config: group.name.clone(),
            software_config: if workflow.is_some() { "workflow".into() } else { "job flow".into() },
            instance_type: master_type(&spec),
            job_flow: Some(Box::new(spec)),
            workflow: workflow.map(Box::new),
            ..Resource::requested(id.clone(), ResourceKind::Cluster, stack, now)
        };
        let event = LifecycleEvent {
            resource: id.clone(),
            seq: 1,
            at: now,
            actor: Actor::User(admin.username.clone()),
            from: Phase::Requested,
            to: Phase::Requested,
            reason: format!("{what} launched by {}", admin.username),
        };
        inner.insert_within_quota(group, &resource, &event).await?;
        inner.publish(&resource, event);
        super::Shared::ensure_driver(inner, &id);
        Ok(id)
    }

    /// Runs a stored workflow from where it is to its end (again after a crash: nothing done
    /// is done twice). A failed state ends the run with its error and cause (a failed step's
    /// name and reason) unless a `Retry` or `Catch` takes it.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for a caller who may not see the run; [`Error::NotFound`];
    /// [`Error::Validation`] for a resource that is no workflow; the cloud's or the store's
    /// errors, after which the run can be resumed.
    pub async fn run_workflow(&self, principal: &Principal, id: &LaunchId) -> Result<WorkflowReport> {
        loop {
            let r = self.inner.stored_for(principal, id).await?;
            let Some(progress) = r.workflow.clone() else {
                return Err(Error::validation("resource", id.as_str(), "not a workflow run"));
            };
            let workflow = read_workflow(&progress.document)?;
            let report = |outcome| WorkflowReport {
                id: id.clone(),
                cluster_id: r.cluster_id.clone(),
                outcome,
                output: progress.data.clone(),
            };
            if let Some(outcome) = progress.outcome.clone() {
                // Here, not where the outcome is stored, so that a crash in between still ends it.
                if matches!(outcome, WorkflowOutcome::Failed { .. }) && progress.terminate_on_failure {
                    self.inner.terminate_for_workflow(&r, "the workflow failed (terminate on failure)").await?;
                }
                return Ok(report(outcome));
            }
            let Some(name) = progress.state.clone() else { return Ok(report(WorkflowOutcome::Succeeded)) };
            let state = workflow.state(&name).ok_or_else(|| Error::validation("state", &name, "names no state"))?;
            match &state.kind {
                StateKind::Succeed => self.inner.end_workflow(&r, WorkflowOutcome::Succeeded).await?,
                StateKind::Fail { error, cause } => {
                    let error = error.clone().unwrap_or_else(|| "States.Fail".into());
                    let outcome =
                        WorkflowOutcome::Failed { state: name, error, cause: cause.clone().unwrap_or_default() };
                    self.inner.end_workflow(&r, outcome).await?
                }
                StateKind::Task(task) => {
                    let result = self.inner.run_task(&r, &name, task).await?;
                    self.inner.after_task(&r, &name, task, result).await?
                }
            }
        }
    }
}

impl super::Shared {
    /// Moves the run on after a task: its output to the next state, or a retry, a catch,
    /// or the end.
    async fn after_task(
        &self,
        r: &Resource,
        name: &str,
        task: &Task,
        result: std::result::Result<Value, Failure>,
    ) -> Result<()> {
        let Some(progress) = &r.workflow else { return Ok(()) };
        let failure = match result {
            Ok(result) => {
                let selected = match &task.result_selector {
                    Some(selector) => resolve(selector, &result, &format!("States.{name}.ResultSelector"))?,
                    None => result,
                };
                let mut data = progress.data.clone();
                if let Some(path) = &task.result_path {
                    write_path(&mut data, path, selected)?;
                }
                match &task.next {
                    Some(next) => drop(self.advance(r, Some(next.clone()), data).await?),
                    None => {
                        let r = self.advance(r, None, data).await?;
                        self.end_workflow(&r, WorkflowOutcome::Succeeded).await?;
                    }
                }
                return Ok(());
            }
            Err(f) => f,
        };
        let covers = |errors: &[String]| errors.iter().any(|e| e == &failure.error || e == "States.ALL");
        if let Some(retrier) = task.retry.iter().find(|t| covers(&t.error_equals))
            && progress.attempts < retrier.max_attempts
        {
            let wait = f64::from(retrier.interval_seconds) * retrier.backoff_rate.powi(progress.attempts as i32);
            let r = self.update_workflow(r, |p| (p.attempts, p.pending_step) = (progress.attempts + 1, None)).await?;
            self.note_latest(&r.id, Actor::Engine, &format!("state {name} failed ({}); retrying", failure.cause))
                .await?;
            self.clock.sleep(std::time::Duration::from_secs_f64(wait.min(3600.0))).await;
            return Ok(());
        }
        if let Some(catcher) = task.catch.iter().find(|c| covers(&c.error_equals)) {
            let mut data = progress.data.clone();
            let error = json!({"Error": failure.error, "Cause": failure.cause});
            write_path(&mut data, catcher.result_path.as_deref().unwrap_or("$"), error)?;
            return self.advance(r, Some(catcher.next.clone()), data).await.map(drop);
        }
        let outcome = WorkflowOutcome::Failed { state: name.to_string(), error: failure.error, cause: failure.cause };
        self.end_workflow(r, outcome).await
    }

    async fn advance(&self, r: &Resource, next: Option<String>, data: Value) -> Result<Resource> {
        self.update_workflow(r, |p| {
            (p.state, p.data, p.attempts, p.pending_step) = (next.clone(), data.clone(), 0, None)
        })
        .await
    }

    /// Edits the run's progress on the latest stored record (the driver and refresh write
    /// the same record: a stale write is read again and redone).
    pub(super) async fn update_workflow(&self, r: &Resource, edit: impl Fn(&mut WorkflowProgress)) -> Result<Resource> {
        let mut current = r.clone();
        loop {
            match self.update(&current, |n| n.workflow.iter_mut().for_each(|w| edit(w))).await {
                Err(Error::Stale(_)) => {
                    current = self
                        .store
                        .get_resource(&r.id)
                        .await?
                        .ok_or_else(|| Error::NotFound { kind: "resource", name: r.id.to_string() })?;
                }
                other => return other,
            }
        }
    }

    /// Records how the run ended (the run's loop then terminates the cluster of a failed run
    /// when asked).
    async fn end_workflow(&self, r: &Resource, outcome: WorkflowOutcome) -> Result<()> {
        let why = match &outcome {
            WorkflowOutcome::Succeeded => "workflow succeeded".to_string(),
            WorkflowOutcome::Failed { state, error, cause } => {
                format!("workflow failed in state {state}: {error}: {cause}")
            }
        };
        let r = self.update_workflow(r, |p| p.outcome = Some(outcome.clone())).await?;
        self.note_latest(&r.id, Actor::Engine, &why).await
    }

    /// Orders the run's cluster terminated (unless it is ending already) and drives it.
    pub(super) async fn terminate_for_workflow(self: &Arc<Self>, r: &Resource, reason: &str) -> Result<()> {
        loop {
            let current = self.store.get_resource(&r.id).await?.unwrap_or_else(|| r.clone());
            if current.phase.is_terminal() || current.phase == Phase::Terminating {
                return Ok(());
            }
            match self.order(&current, crate::engine::Action::Terminate, Actor::Engine, reason.to_string()).await {
                Err(Error::Stale(_)) => continue,
                Err(e) => return Err(e),
                Ok(_) => {
                    super::Shared::ensure_driver(self, &r.id);
                    return Ok(());
                }
            }
        }
    }
}
