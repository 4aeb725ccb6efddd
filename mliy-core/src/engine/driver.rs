//! Driving one resource through its phases: one step at a time, each persisted before the
//! cloud call it leads to, each wait bounded by a deadline.

use super::Shared;
use crate::clock::Timestamp;
use crate::cloud::{CloudExt, ClusterState, InstanceInfo, InstanceState, StackStatus};
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, Event, Phase, Resource, ResourceKind};
use crate::model::{LaunchId, OnBootstrapTimeout};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long after a missed signal's timeout the engine still waits for the stack to say so.
const SIGNAL_ROLLBACK_MARGIN: Duration = Duration::from_secs(15 * 60);

/// How often a bootstrapping instance is looked at (its reports wake the driver sooner).
const BOOTSTRAP_LOOK: Duration = Duration::from_secs(60);

/// What a lease keeps beyond a driver's longest wait between two looks.
const LEASE_SPARE: Duration = Duration::from_secs(30);

/// What to do after a step.
pub(super) enum Flow {
    /// Look at the resource again now.
    Again,
    /// Wait this long (or until woken), then look again.
    Wait(Duration),
    /// Nothing to do until someone acts on the resource.
    Idle,
}

/// What a driver knows between its steps beyond the record.
#[derive(Default)]
pub(super) struct Memory {
    /// Until when this driver holds the resource's lease, as far as it knows.
    lease: Option<Timestamp>,
    /// What it knows of the stack before the record holds its id.
    stack: StackKnown,
}

/// The stack's id is stored with the transition that finds it complete (one write fewer per
/// launch); until then the driver that created it remembers it. A driver that takes over
/// (after a crash) looks the stack up by its name first.
#[derive(Default)]
enum StackKnown {
    /// Maybe created by an earlier driver.
    #[default]
    Unknown,
    /// This driver moved the record to CreatingStack: nobody has created it.
    NotCreated,
    /// Created, with this id.
    Created(String),
}

/// Phases in which a resource waits for a user rather than for the cloud.
fn idle(r: &Resource) -> bool {
    !r.needs_driving() || matches!(r.phase, Phase::Ready | Phase::Stopped | Phase::Waiting)
}

pub(crate) async fn drive(inner: Arc<Shared>, id: LaunchId, notify: Arc<Notify>) {
    let span = tracing::info_span!(target: "mliy::launch", "resource", %id);
    let _enter = span.enter();
    let mut failures = 0u32;
    let mut memory = Memory::default();
    // A process that died between a transition and its bill left the bill behind.
    if let Ok(Some(r)) = inner.store.get_resource(&id).await {
        let _ = Box::pin(inner.settle_bill(&r)).await;
    }
    // The step's future is large (every phase's calls): boxed, it takes its memory only while
    // it runs, and a driver that waits (most of them, most of the time) stays small.
    loop {
        let flow = match Box::pin(inner.step(&id, &mut memory)).await {
            Ok(flow) => {
                failures = 0;
                flow
            }
            Err(e) if e.is_retryable() => {
                failures += 1;
                let wait = inner.config.retry_base.saturating_mul(1 << failures.min(16)).min(inner.config.retry_max);
                tracing::debug!(target: "mliy::cloud", error = %e, ?wait, "retrying");
                Flow::Wait(wait)
            }
            // Another writer changed the record (so the step's phase may be outdated too), or
            // the cloud's object has not settled yet: look again shortly. Something that
            // exists already (another launch's stack name) will not go away: it fails below.
            Err(Error::Stale(_) | Error::InvalidTransition(_) | Error::WrongState(_)) => {
                Flow::Wait(inner.config.instance_poll)
            }
            // A record that has ended already (its cleanup was refused) is tried again later,
            // not at once: a refusal that lasts (a termination-protected cluster) must not spin.
            Err(e) => match Box::pin(inner.fail_by_id(&id, &e)).await {
                Ok(true) => Flow::Again,
                Ok(false) | Err(_) => Flow::Wait(inner.config.retry_max),
            },
        };
        match flow {
            Flow::Again => {}
            Flow::Wait(d) => {
                tokio::select! {
                    () = inner.clock.sleep(d) => {}
                    () = notify.notified() => {}
                }
            }
            Flow::Idle => {
                inner.unregister(&id);
                let _ = inner.store.release_lease(&format!("resource:{id}"), &inner.config.replica_id).await;
                // An action may have landed between the last look and the unregistration.
                if let Ok(Some(r)) = inner.store.get_resource(&id).await
                    && !idle(&r)
                {
                    Shared::ensure_driver(&inner, &id);
                }
                return;
            }
        }
    }
}

impl Shared {
    async fn fail_by_id(&self, id: &LaunchId, error: &Error) -> Result<bool> {
        if let Some(r) = self.store.get_resource(id).await?
            && !r.phase.is_terminal()
        {
            self.fail(&r, format!("{} failed: {error}", r.phase.name())).await?;
            return Ok(true);
        }
        tracing::warn!(target: "mliy::driver", %id, error = %error, "cleanup refused; trying again later");
        Ok(false)
    }

    /// Takes or renews this replica's lease on the resource; `false` when another replica
    /// drives it. A lease is renewed only when less than the driver's longest wait between
    /// two looks and `LEASE_SPARE` (or three quarters of the TTL, if shorter) is left: it
    /// never runs out while held, and a launch shorter than the rest never renews it.
    async fn claim(&self, id: &LaunchId, held_until: &mut Option<Timestamp>) -> Result<bool> {
        let now = self.clock.now();
        let ttl = self.config.lease_ttl;
        let c = &self.config;
        let longest = [c.retry_max, c.stack_poll, c.instance_poll, c.cluster_poll, c.command_poll, BOOTSTRAP_LOOK]
            .into_iter()
            .max();
        let renew_below = (longest.unwrap_or_default() + LEASE_SPARE).min(ttl * 3 / 4);
        if held_until.is_some_and(|until| until > now && until.since(now) >= renew_below) {
            return Ok(true);
        }
        let until = now.plus(ttl);
        let held = self.store.try_lease(&format!("resource:{id}"), &self.config.replica_id, until, now).await?;
        *held_until = held.then_some(until);
        Ok(held)
    }

    async fn step(&self, id: &LaunchId, memory: &mut Memory) -> Result<Flow> {
        let Some(r) = self.store.get_resource(id).await? else { return Ok(Flow::Idle) };
        if !idle(&r) && !self.claim(id, &mut memory.lease).await? {
            // Another replica drives it; look again when its lease could have run out.
            return Ok(Flow::Wait(self.config.lease_ttl / 2));
        }
        if r.phase.is_terminal() && r.cleanup_pending {
            return self.cleanup(&r).await;
        }
        if idle(&r) {
            self.settle_bill(&r).await?;
            return Ok(Flow::Idle);
        }
        let now = self.clock.now();
        if let Some(deadline) = r.deadline
            && now >= deadline
        {
            if matches!(r.phase, Phase::Bootstrapping { stack_creating: false, .. }) && r.kind == ResourceKind::Instance
            {
                return self.bootstrap_timed_out(&r).await;
            }
            let what = match r.phase {
                Phase::Bootstrapping { stack_creating: true, .. } => "creating_stack",
                _ => r.phase.name(),
            };
            let reason = format!("{what} did not finish before its deadline");
            self.fail(&r, reason).await?;
            return Ok(Flow::Again);
        }
        let until_deadline =
            |d: Duration| r.deadline.map_or(d, |dl| d.min(dl.since(now)).max(Duration::from_millis(1)));
        match (&r.phase, r.kind) {
            (Phase::Requested, _) => {
                let deadline = now.plus(self.stack_wait(&r));
                let what = if r.job_flow.is_some() { "submitting the job flow" } else { "creating the stack" };
                self.transition(&r, Event::CreateStack, Actor::Engine, what, |n| n.deadline = Some(deadline)).await?;
                memory.stack = StackKnown::NotCreated;
                Ok(Flow::Again)
            }
            (Phase::CreatingStack, ResourceKind::Cluster) if r.job_flow.is_some() => self.submitting_job_flow(&r).await,
            (Phase::CreatingStack, _) => {
                self.creating_stack(&r, until_deadline(self.config.stack_poll), &mut memory.stack).await
            }
            (Phase::Bootstrapping { percent, stack_creating: true, .. }, ResourceKind::Instance) => {
                let poll = until_deadline(self.config.stack_poll);
                if r.ready_when.met(*percent, true) && r.instance_id.is_some() {
                    return self.ready_when_met(&r, poll).await;
                }
                self.creating_stack(&r, poll, &mut memory.stack).await
            }
            (Phase::Provisioning, ResourceKind::Instance) => {
                self.provisioning(&r, until_deadline(self.config.instance_poll)).await
            }
            (Phase::Starting, ResourceKind::Instance) => {
                self.starting(&r, until_deadline(self.config.instance_poll)).await
            }
            (Phase::Bootstrapping { .. }, ResourceKind::Instance) => {
                self.bootstrapping(&r, until_deadline(BOOTSTRAP_LOOK)).await
            }
            (Phase::Stopping, ResourceKind::Instance) => {
                self.stopping(&r, until_deadline(self.config.instance_poll)).await
            }
            (Phase::Rebooting, ResourceKind::Instance) => self.rebooting(&r).await,
            (Phase::Starting | Phase::Bootstrapping { .. } | Phase::Running, ResourceKind::Cluster) => {
                self.cluster_coming_up(&r, until_deadline(self.config.cluster_poll)).await
            }
            (Phase::Terminating, _) => self.terminating(&r, until_deadline(self.config.stack_poll)).await,
            (phase, kind) => {
                let reason = format!("a {kind:?} cannot be in phase {phase}");
                self.fail(&r, reason).await?;
                Ok(Flow::Again)
            }
        }
    }

    /// The bootstrap never reported done: the software config's `on_bootstrap_timeout` says
    /// whether the machine is kept (Ready, with the reason), stopped, or deleted.
    async fn bootstrap_timed_out(&self, r: &Resource) -> Result<Flow> {
        let policy = self
            .planner
            .catalog()
            .software_config(&r.software_config)
            .map_or(OnBootstrapTimeout::Keep, |sc| sc.on_bootstrap_timeout);
        let waited = self.config.bootstrap_timeout.as_secs() / 60;
        let why = format!("the bootstrap reported no completion within {waited} minutes");
        if policy == OnBootstrapTimeout::Delete {
            self.fail(r, format!("{why} (on_bootstrap_timeout: delete)")).await?;
            return Ok(Flow::Again);
        }
        let reason = match policy {
            OnBootstrapTimeout::Stop => format!("{why}; stopping it (on_bootstrap_timeout: stop)"),
            _ => format!("{why}; left running for its owner (on_bootstrap_timeout: keep)"),
        };
        let kept = self
            .transition(r, Event::BootstrapUnconfirmed, Actor::Engine, reason, |n| {
                n.deadline = None;
                n.progress_open = false;
            })
            .await?;
        if policy == OnBootstrapTimeout::Stop {
            let deadline = self.clock.now().plus(self.config.action_timeout);
            self.transition(&kept, Event::Stop, Actor::Engine, "stop after the bootstrap deadline", |n| {
                n.deadline = Some(deadline)
            })
            .await?;
        }
        Ok(Flow::Again)
    }

    /// Sends CreateStack unless the stack exists; its id once it does.
    async fn stack_created(&self, r: &Resource, known: &mut StackKnown) -> Result<Option<String>> {
        if let Some(id) = &r.stack_id {
            return Ok(Some(id.clone()));
        }
        if let StackKnown::Unknown = known
            && let Some(info) = self.cloud.describe_stack(&r.stack.name).await?
        {
            *known = StackKnown::Created(info.id);
        }
        if let StackKnown::Created(id) = known {
            return Ok(Some(id.clone()));
        }
        let spec = match self.outgoing_stack(r) {
            Ok(spec) => spec,
            Err(e) => {
                self.fail(r, format!("CreateStack not sent: {e}")).await?;
                return Ok(None);
            }
        };
        match self.cloud.create_stack(&spec).await {
            Ok(id) => *known = StackKnown::Created(id),
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => {
                self.fail(r, format!("CreateStack refused: {e}")).await?;
            }
        }
        Ok(None)
    }

    async fn creating_stack(&self, r: &Resource, poll: Duration, known: &mut StackKnown) -> Result<Flow> {
        let Some(stack_id) = self.stack_created(r, known).await? else { return Ok(Flow::Again) };
        let Some(info) = self.cloud.describe_stack(&stack_id).await? else {
            self.fail(r, format!("stack {stack_id} disappeared")).await?;
            return Ok(Flow::Again);
        };
        match info.status {
            StackStatus::CreateComplete => {
                let resources = self.cloud.stack_resources(&stack_id).await?;
                let find =
                    |ty: &str| resources.iter().find(|x| x.resource_type == ty).and_then(|x| x.physical_id.clone());
                let (instance, cluster) = (find("AWS::EC2::Instance"), find("AWS::EMR::Cluster"));
                let (wanted, what) = match r.kind {
                    ResourceKind::Instance => (&instance, "AWS::EC2::Instance"),
                    ResourceKind::Cluster => (&cluster, "AWS::EMR::Cluster"),
                };
                if wanted.is_none() {
                    self.fail(r, format!("the stack has no {what}")).await?;
                    return Ok(Flow::Again);
                }
                // Reports came while the stack waited for the signal: the bootstrap's deadline.
                let reporting = matches!(r.phase, Phase::Bootstrapping { .. });
                let wait = if reporting { self.config.bootstrap_timeout } else { self.config.provision_timeout };
                let deadline = self.clock.now().plus(wait);
                self.transition(r, Event::StackCreated, Actor::Engine, format!("stack {} created", info.name), |n| {
                    n.instance_id = instance.or(n.instance_id.take());
                    n.cluster_id = cluster;
                    n.stack_id = Some(stack_id.clone());
                    n.deadline = Some(deadline);
                })
                .await?;
                Ok(Flow::Again)
            }
            _ if info.status.is_failed_creation() => {
                let why = self.failure_reason(&stack_id, info).await;
                self.fail(r, format!("stack creation failed: {why}")).await?;
                Ok(Flow::Again)
            }
            StackStatus::DeleteInProgress | StackStatus::DeleteComplete => {
                self.fail(r, "the stack was deleted outside mliy").await?;
                Ok(Flow::Again)
            }
            _ => Ok(Flow::Wait(poll)),
        }
    }

    /// Why a stack failed: the first failed resource's reason from the stack's events (a
    /// missed resource signal, say), else the stack's own status reason.
    async fn failure_reason(&self, stack_id: &str, info: crate::cloud::StackInfo) -> String {
        let events = self.cloud.stack_events(stack_id).await.unwrap_or_default();
        let failed = events.iter().rev().find(|e| {
            e.status.ends_with("_FAILED")
                && e.reason.as_deref().is_some_and(|r| !r.contains("Resource creation cancelled"))
        });
        match failed {
            Some(e) => format!("{}: {}", e.logical_id, e.reason.as_deref().unwrap_or_default()),
            None => info.reason.unwrap_or_else(|| info.status.as_str().to_string()),
        }
    }

    async fn describe_instance(&self, r: &Resource) -> Result<Option<InstanceInfo>> {
        let Some(id) = &r.instance_id else { return Ok(None) };
        self.cloud.describe_instance(id).await
    }

    /// Fails the resource when its instance is gone; true if it did.
    async fn instance_gone(&self, r: &Resource, info: &InstanceInfo) -> Result<bool> {
        if matches!(info.state, InstanceState::ShuttingDown | InstanceState::Terminated) {
            self.fail(r, format!("instance {} terminated outside mliy while {}", info.id, r.phase.name())).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn provisioning(&self, r: &Resource, poll: Duration) -> Result<Flow> {
        let Some(info) = self.describe_instance(r).await? else { return Ok(Flow::Wait(poll)) };
        if self.instance_gone(r, &info).await? {
            return Ok(Flow::Again);
        }
        match (info.state, &info.private_ip) {
            (InstanceState::Running, Some(ip)) => {
                let ip = ip.clone();
                // With `ready_when: stack_complete | first`, the complete stack made it ready.
                let progress_bar = r.progress_bar && !r.ready_when.at_stack_complete();
                let deadline = progress_bar.then(|| self.clock.now().plus(self.config.bootstrap_timeout));
                let event = Event::InstanceRunning { progress_bar };
                let next = self
                    .transition(r, event, Actor::Engine, format!("instance {} running at {ip}", info.id), |n| {
                        n.private_ip = Some(ip);
                        n.deadline = deadline;
                    })
                    .await?;
                self.follow_dns(next, true).await?;
                Ok(Flow::Again)
            }
            (InstanceState::Stopping | InstanceState::Stopped, _) => {
                self.fail(r, format!("instance {} was stopped outside mliy while provisioning", info.id)).await?;
                Ok(Flow::Again)
            }
            _ => Ok(Flow::Wait(poll)),
        }
    }

    async fn bootstrapping(&self, r: &Resource, wait: Duration) -> Result<Flow> {
        self.settle_bill(r).await?;
        if let Phase::Bootstrapping { percent, .. } = r.phase
            && r.ready_when.met(percent, false)
        {
            return self.ready_when_met(r, wait.min(self.config.instance_poll)).await;
        }
        if let Some(info) = self.describe_instance(r).await?
            && self.instance_gone(r, &info).await?
        {
            return Ok(Flow::Again);
        }
        Ok(Flow::Wait(wait))
    }

    /// How long a stack may take: `stack_timeout`, or longer when CloudFormation itself waits
    /// longer for the instance's signal (then its rollback reason, not a deadline, says why).
    fn stack_wait(&self, r: &Resource) -> Duration {
        let signal = r.signal_timeout_secs.map_or(Duration::ZERO, |s| Duration::from_secs(s) + SIGNAL_ROLLBACK_MARGIN);
        self.config.stack_timeout.max(signal)
    }

    /// `ready_when` holds: Ready once the instance runs with an address.
    async fn ready_when_met(&self, r: &Resource, poll: Duration) -> Result<Flow> {
        let Some(info) = self.describe_instance(r).await? else { return Ok(Flow::Wait(poll)) };
        if self.instance_gone(r, &info).await? {
            return Ok(Flow::Again);
        }
        let (InstanceState::Running, Some(ip)) = (info.state, info.private_ip.clone()) else {
            return Ok(Flow::Wait(poll));
        };
        let why = match r.phase {
            Phase::Bootstrapping { stack_creating: true, .. } => {
                "the bootstrap reported 100 while the stack was creating"
            }
            Phase::Bootstrapping { percent: 100.., .. } => "the bootstrap reported 100 and the stack completed",
            _ => "the stack completed after the bootstrap's signal",
        };
        let why = format!("{why} (ready_when: {})", r.ready_when.name());
        let next = self
            .transition(r, Event::ReadyWhenMet, Actor::Engine, format!("instance {} ready: {why}", info.id), |n| {
                n.private_ip = Some(ip);
                n.deadline = None;
            })
            .await?;
        self.follow_dns(next, true).await?;
        Ok(Flow::Again)
    }

    async fn starting(&self, r: &Resource, poll: Duration) -> Result<Flow> {
        let Some(info) = self.describe_instance(r).await? else { return Ok(Flow::Wait(poll)) };
        if self.instance_gone(r, &info).await? {
            return Ok(Flow::Again);
        }
        match (info.state, &info.private_ip) {
            (InstanceState::Stopped, _) => {
                self.cloud.start_instances(std::slice::from_ref(&info.id)).await?;
                Ok(Flow::Wait(poll))
            }
            (InstanceState::Running, Some(ip)) => {
                let ip = ip.clone();
                let moved = r.private_ip.as_deref() != Some(ip.as_str());
                let event = Event::InstanceRunning { progress_bar: false };
                let next = self
                    .transition(r, event, Actor::Engine, format!("instance {} running again at {ip}", info.id), |n| {
                        n.private_ip = Some(ip);
                        n.deadline = None;
                    })
                    .await?;
                self.follow_dns(next, moved).await?;
                Ok(Flow::Again)
            }
            _ => Ok(Flow::Wait(poll)),
        }
    }

    async fn stopping(&self, r: &Resource, poll: Duration) -> Result<Flow> {
        let Some(info) = self.describe_instance(r).await? else { return Ok(Flow::Wait(poll)) };
        if self.instance_gone(r, &info).await? {
            return Ok(Flow::Again);
        }
        match info.state {
            InstanceState::Running | InstanceState::Pending => {
                self.cloud.stop_instances(std::slice::from_ref(&info.id)).await?;
                Ok(Flow::Wait(poll))
            }
            InstanceState::Stopped => {
                let stopped = self
                    .transition(r, Event::Stopped, Actor::Engine, format!("instance {} stopped", info.id), |n| {
                        n.deadline = None;
                    })
                    .await?;
                self.follow_dns(stopped, false).await?;
                Ok(Flow::Again)
            }
            _ => Ok(Flow::Wait(poll)),
        }
    }

    /// Sends the reboot and records it: EC2 reboots in place and the instance stays
    /// `running`, so there is nothing to wait for. (A crash between the two sends it again.)
    async fn rebooting(&self, r: &Resource) -> Result<Flow> {
        let Some(instance) = &r.instance_id else {
            self.fail(r, "no instance to reboot").await?;
            return Ok(Flow::Again);
        };
        self.cloud.reboot_instances(std::slice::from_ref(instance)).await?;
        self.transition(r, Event::Rebooted, Actor::Engine, format!("instance {instance} rebooted"), |n| {
            n.deadline = None
        })
        .await?;
        Ok(Flow::Again)
    }

    async fn cluster_coming_up(&self, r: &Resource, poll: Duration) -> Result<Flow> {
        let Some(cluster_id) = &r.cluster_id else {
            self.fail(r, "no cluster id").await?;
            return Ok(Flow::Again);
        };
        let Some(info) = self.cloud.describe_cluster(cluster_id).await? else { return Ok(Flow::Wait(poll)) };
        let ip = info.master_private_ip.clone();
        let (event, target) = match info.state {
            ClusterState::Starting => return Ok(Flow::Wait(poll)),
            ClusterState::Bootstrapping => (Event::ClusterBootstrapping, "bootstrapping"),
            ClusterState::Running => (Event::ClusterRunning, "running"),
            ClusterState::Waiting => (Event::ClusterWaiting, "waiting"),
            ClusterState::Terminating | ClusterState::Terminated | ClusterState::TerminatedWithErrors => {
                let why = info.state_reason.unwrap_or_else(|| format!("{:?}", info.state));
                self.fail(r, format!("cluster {cluster_id} terminated while starting: {why}")).await?;
                return Ok(Flow::Again);
            }
        };
        if r.phase.name() == target {
            return Ok(Flow::Wait(poll));
        }
        let usable = info.state == ClusterState::Waiting;
        let next = self
            .transition(r, event, Actor::Engine, format!("cluster {cluster_id} is {target}"), |n| {
                n.private_ip = ip.or(n.private_ip.take());
                if usable {
                    n.deadline = None;
                }
            })
            .await?;
        self.follow_dns(next, usable).await?;
        Ok(Flow::Again)
    }

    /// Deletes the resource's stack and waits for it to go; `true` once it is gone.
    async fn remove_stack(&self, r: &Resource) -> Result<bool> {
        let stack_id = match &r.stack_id {
            Some(id) => id.clone(),
            // The stack may have been created by a call whose answer was lost: find it by name.
            None => match self.cloud.describe_stack(&r.stack.name).await? {
                Some(info) => {
                    self.update(r, |n| n.stack_id = Some(info.id.clone())).await?;
                    info.id
                }
                None => return Ok(true),
            },
        };
        match self.cloud.describe_stack(&stack_id).await? {
            None => Ok(true),
            Some(info) if info.status == StackStatus::DeleteComplete => Ok(true),
            Some(info) if info.status == StackStatus::DeleteInProgress => Ok(false),
            Some(_) => {
                self.cloud.delete_stack(&stack_id).await?;
                Ok(false)
            }
        }
    }

    /// Removes what the launch created: its stack, or its job flow's cluster, or (adopted,
    /// without a stack) the machine itself.
    async fn remove_cloud(&self, r: &Resource) -> Result<bool> {
        if r.job_flow.is_some() {
            self.remove_cluster(r).await
        } else if super::adoption::stackless(r) {
            self.remove_stackless(r).await
        } else {
            self.remove_stack(r).await
        }
    }

    async fn terminating(&self, r: &Resource, poll: Duration) -> Result<Flow> {
        if !self.remove_cloud(r).await? {
            return Ok(Flow::Wait(poll));
        }
        let Some(r) = self.store.get_resource(&r.id).await? else { return Ok(Flow::Idle) };
        // The bill closes before the record ends: nothing drives an ended record again.
        self.settle_bill(&r).await?;
        let done = self
            .transition(&r, Event::Terminated, Actor::Engine, removed(&r), |n| {
                n.deadline = None;
                n.progress_open = false;
            })
            .await?;
        self.follow_dns(done, false).await?;
        Ok(Flow::Again)
    }

    async fn cleanup(&self, r: &Resource) -> Result<Flow> {
        if !self.remove_cloud(r).await? {
            return Ok(Flow::Wait(self.config.stack_poll));
        }
        let Some(r) = self.store.get_resource(&r.id).await? else { return Ok(Flow::Idle) };
        self.settle_bill(&r).await?;
        let clean = self.note(&r, Actor::Engine, "cleanup done", |n| n.cleanup_pending = false).await?;
        self.follow_dns(clean, false).await?;
        Ok(Flow::Again)
    }
}

/// What ending a resource removed, in words.
fn removed(r: &Resource) -> &'static str {
    let machine = r.job_flow.is_some() || super::adoption::stackless(r);
    match (machine, r.kind) {
        (true, ResourceKind::Cluster) => "cluster terminated",
        (true, ResourceKind::Instance) => "instance terminated",
        (false, _) => "stack deleted",
    }
}
