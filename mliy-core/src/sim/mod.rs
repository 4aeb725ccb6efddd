//! `SimCloud`: a deterministic in-process CloudFormation / EC2 / EMR / SSM in virtual time.
//!
//! Stacks go CREATE_IN_PROGRESS → CREATE_COMPLETE (or CREATE_FAILED → ROLLBACK_COMPLETE when
//! doomed) and create the instances, volumes and clusters their template declares, tagged;
//! instances go pending → running → stopping → stopped …; clusters STARTING → BOOTSTRAPPING →
//! RUNNING → WAITING; steps PENDING → RUNNING → COMPLETED/FAILED. Faults come from the seed:
//! throttling, 5xx, lost answers (the call was applied but the caller gets a timeout), new
//! instances that are not visible yet, stacks that fail and instances that vanish. Every API
//! call is counted by operation.

mod cfn;
mod ec2;
mod emr;
mod faults;
mod journal;
mod objects;
mod ssm;

pub use objects::{BootstrapView, Doom, SimTimings};

use crate::clock::{Clock, Timestamp};
use crate::cloud::{
    Cloud, ClusterInfo, ClusterState, CommandInvocation, CommandSpec, InstanceFilter, InstanceInfo, InstanceState,
    Page, StackEvent, StackInfo, StackResource, StackStatus, StepInfo,
};
use crate::error::{Error, Result};
use crate::model::emr::Step;
use crate::model::{ClusterSpec, StackSpec};
use crate::pricing::Decimal;
use async_trait::async_trait;
use faults::{Fault, unit};
use journal::{Journal, Mutation};
use objects::{SimCluster, SimInstance, SimStack};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What the simulated cloud does.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Decides every fault.
    pub seed: u64,
    /// Share of API calls that fail (throttled, 5xx, or applied with the answer lost).
    pub fault_rate: f64,
    /// Share of launches whose stack fails to create.
    pub fail_stack_rate: f64,
    /// Share of instance launches whose instance dies on its own while bootstrapping.
    pub vanish_rate: f64,
    /// Share of EMR steps that fail.
    pub fail_step_rate: f64,
    /// How long half of new instances stay invisible to DescribeInstances.
    pub consistency_delay: Duration,
    /// How long things take.
    pub timings: SimTimings,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            fault_rate: 0.0,
            fail_stack_rate: 0.0,
            vanish_rate: 0.0,
            fail_step_rate: 0.0,
            consistency_delay: Duration::from_secs(20),
            timings: SimTimings::default(),
        }
    }
}

impl SimConfig {
    /// `rate` of API calls fail; a tenth of that many stacks fail and a twentieth of the
    /// instances vanish.
    pub fn faulty(seed: u64, rate: f64) -> Self {
        SimConfig {
            seed,
            fault_rate: rate,
            fail_stack_rate: rate / 10.0,
            vanish_rate: rate / 20.0,
            fail_step_rate: rate / 10.0,
            ..Self::default()
        }
    }
}

/// Where each stack sits in `State::stacks` (which only grows), by id, by token and by name.
#[derive(Debug, Default)]
struct StackIndex {
    by_token: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
}

#[derive(Debug, Default)]
struct State {
    stacks: Vec<SimStack>,
    stack_index: StackIndex,
    instances: BTreeMap<String, SimInstance>,
    clusters: BTreeMap<String, SimCluster>,
    commands: HashMap<String, (Timestamp, Vec<String>, bool)>,
    calls: BTreeMap<&'static str, u64>,
    /// Mutating calls that found their target already in the state asked for.
    double_actions: u64,
    attempts: HashMap<(&'static str, String), u64>,
    /// Clusters made per launch id (RunJobFlow has no idempotency token: a retried launch
    /// can make two). A stack per token is `stack_index.by_token`'s: CreateStack with a
    /// token seen before answers the stack made then.
    created_per_token: HashMap<String, u32>,
    templates: HashMap<Arc<str>, Arc<crate::template::Template>>,
    tag_lists: objects::TagLists,
    next: u64,
}

impl State {
    fn next(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn stack_index(&self, name_or_id: &str, now: Timestamp) -> Option<usize> {
        stack_place(name_or_id)
            .filter(|&i| self.stacks.get(i).is_some_and(|s| *s.id == *name_or_id))
            .or_else(|| self.live_stack_named(name_or_id, now))
    }

    /// The newest live stack called `name`.
    fn live_stack_named(&self, name: &str, now: Timestamp) -> Option<usize> {
        let named = self.stack_index.by_name.get(name)?;
        named.iter().rev().copied().find(|&i| self.stacks[i].is_live(now))
    }

    /// The stack created with `token`.
    fn stack_by_token(&self, token: &str) -> Option<&SimStack> {
        self.stack_index.by_token.get(token).map(|&i| &self.stacks[i])
    }

    fn push_stack(&mut self, stack: SimStack) {
        let i = self.stacks.len();
        let ix = &mut self.stack_index;
        ix.by_token.entry(stack.token.clone()).or_insert(i);
        ix.by_name.entry(stack.name.clone()).or_default().push(i);
        self.stacks.push(stack);
    }
}

/// Stack `name`'s id: an ARN ending in `n` (unique in the cloud) and its place among the
/// stacks, so it is found without an index of its own.
fn stack_id(name: &str, n: u64, place: usize) -> Arc<str> {
    Arc::from(format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/{n:08x}-{place:x}-sim"))
}

/// The place a stack id names (checked against the stack there by the caller).
fn stack_place(id: &str) -> Option<usize> {
    let rest = id.strip_prefix("arn:aws:cloudformation:")?.strip_suffix("-sim")?;
    usize::from_str_radix(rest.rsplit('-').next()?, 16).ok()
}

/// The simulated cloud. Cheap to share: hold it in an `Arc`.
#[derive(Debug)]
pub struct SimCloud {
    clock: Arc<dyn Clock>,
    config: SimConfig,
    /// The fault rate in force (changeable while running), as `f64` bits.
    fault_rate: std::sync::atomic::AtomicU64,
    frozen: std::sync::atomic::AtomicBool,
    state: Mutex<State>,
    journal: Option<Arc<Journal>>,
}

impl SimCloud {
    /// A simulated cloud on `clock`.
    pub fn new(clock: Arc<dyn Clock>, config: SimConfig) -> Self {
        let fault_rate = std::sync::atomic::AtomicU64::new(config.fault_rate.to_bits());
        SimCloud {
            clock,
            config,
            fault_rate,
            frozen: Default::default(),
            state: Mutex::new(State::default()),
            journal: None,
        }
    }

    /// While frozen, every call fails with [`Error::Unavailable`] and changes nothing (the
    /// caller's process is taken to be dead).
    pub fn set_frozen(&self, frozen: bool) {
        self.frozen.store(frozen, std::sync::atomic::Ordering::SeqCst);
    }

    /// Changes the share of API calls that fail, from now on.
    pub fn set_fault_rate(&self, rate: f64) {
        self.fault_rate.store(rate.to_bits(), std::sync::atomic::Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// API calls so far, by operation.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.lock().calls.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    /// A cluster's steps as sent: name and arguments, oldest first (what ListSteps does not
    /// show here).
    pub fn step_args(&self, cluster_id: &str) -> Vec<(String, Vec<String>)> {
        let st = self.lock();
        let steps = st.clusters.get(cluster_id).map(|c| c.steps.as_slice()).unwrap_or_default();
        steps.iter().map(|s| (s.name.clone(), s.args.clone())).collect()
    }

    /// How many stacks were created beyond the first for the same ClientRequestToken or
    /// launch id (0 when every launch made one stack at most).
    pub fn duplicate_stacks(&self) -> u64 {
        self.lock().created_per_token.values().map(|n| u64::from(n.saturating_sub(1))).sum()
    }

    /// Stop, start, DeleteStack and TerminateJobFlows calls that found their target already
    /// stopping or stopped, starting or running, being deleted, or terminating: an action
    /// sent twice (0 when every action reached the cloud once).
    pub fn double_actions(&self) -> u64 {
        self.lock().double_actions
    }

    /// What a bootstrap's `cfn-signal --success true` does: the stack's waiting resource
    /// `logical_id` completes, and with it the stack.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown stack, [`Error::Validation`] when it waits for no
    /// signal from that resource (or no longer).
    pub async fn signal_resource(&self, stack: &str, logical_id: &str) -> Result<()> {
        cfn::signal_resource(self, stack, logical_id).await
    }

    /// The user data sent with the stack created with `token` (base64), if any.
    pub fn user_data_of(&self, token: &str) -> Option<String> {
        self.lock().stack_by_token(token).and_then(|s| s.user_data.as_deref().map(str::to_string))
    }

    /// What a bootstrap on the instance of the stack created with `token` knows of itself
    /// (instance metadata and its own stack), or `None` before that stack has an instance.
    /// Not an API call: neither counted nor faulted.
    pub fn bootstrap_view(&self, token: &str) -> Option<BootstrapView> {
        let now = self.clock.now();
        let st = self.lock();
        let stack = st.stack_by_token(token)?;
        let (logical, _, iid) = stack.resources.iter().find(|(_, ty, _)| *ty == "AWS::EC2::Instance")?;
        let waiting = stack.status(now) == StackStatus::CreateInProgress;
        let awaited = stack.gate.as_ref().filter(|g| waiting && g.signalled.is_none() && g.logical_id == *logical);
        Some(BootstrapView {
            stack_id: stack.id.to_string(),
            instance_id: iid.to_string(),
            running: st.instances.get(iid).and_then(|i| i.state.at(now)) == Some(InstanceState::Running),
            awaited_signal: awaited.map(|g| g.logical_id.clone()),
        })
    }

    /// Journals a call that passed the gate (see [`SimCloud::with_journal`]).
    fn record(&self, now: Timestamp, call: impl FnOnce() -> Mutation) -> Result<()> {
        match &self.journal {
            Some(journal) => journal.append(now, call()),
            None => Ok(()),
        }
    }

    /// Stacks that exist now (not DELETE_COMPLETE), as (name, token, status).
    pub fn live_stacks(&self) -> Vec<(String, String, StackStatus)> {
        let now = self.clock.now();
        self.lock()
            .stacks
            .iter()
            .filter(|s| s.is_live(now))
            .map(|s| (s.name.clone(), s.token.clone(), s.status(now)))
            .collect()
    }

    /// Instances not terminated and clusters not terminated now.
    pub fn running_machines(&self) -> usize {
        let now = self.clock.now();
        let st = self.lock();
        st.instances.values().filter(|i| i.state.at(now) != Some(InstanceState::Terminated)).count()
            + st.clusters.values().filter(|c| !self.cluster_state(c, now).0.is_terminated()).count()
    }

    /// The doom the seed gave the stack created with `token`, if it was created.
    pub fn doom_of(&self, token: &str) -> Option<Doom> {
        self.lock().stack_by_token(token).and_then(|s| s.doom)
    }

    /// Whether a stack was ever created for `token`.
    pub fn created(&self, token: &str) -> bool {
        let st = self.lock();
        st.stack_index.by_token.contains_key(token) || st.created_per_token.contains_key(token)
    }

    /// Counts the call and decides its fault: `Err` refuses it, `Ok(Some(LostAnswer))` applies
    /// it but answers with an error.
    fn gate(&self, st: &mut State, op: &'static str, key: &str, mutating: bool) -> Result<Option<Fault>> {
        if self.frozen.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Unavailable(format!("{op}: the caller is frozen (simulated crash)")));
        }
        *st.calls.entry(op).or_default() += 1;
        let rate = f64::from_bits(self.fault_rate.load(std::sync::atomic::Ordering::Relaxed));
        if rate <= 0.0 {
            // Attempts are counted only while faults are drawn: a cloud without faults
            // keeps nothing per call.
            return Ok(None);
        }
        let n = st.attempts.entry((op, key.to_string())).or_default();
        *n += 1;
        let seed = self.config.seed;
        if unit(seed, &["fault", op, key], *n) >= rate {
            return Ok(None);
        }
        match Fault::pick(unit(seed, &["kind", op, key], *n), mutating) {
            Fault::LostAnswer => Ok(Some(Fault::LostAnswer)),
            refused => Err(refused.error(op)),
        }
    }

    /// One mutating call, the same way for every service: lets other tasks run, passes the
    /// fault gate, journals the call, applies it under the lock, and answers after letting
    /// other tasks run again (so a crash can fall between the cloud applying a call and the
    /// caller hearing of it). A lost answer is applied and still answered with an error.
    async fn mutate<T>(
        &self,
        op: &'static str,
        key: &str,
        call: impl FnOnce() -> Mutation,
        apply: impl FnOnce(&mut State, Timestamp) -> Result<T>,
    ) -> Result<T> {
        tokio::task::yield_now().await;
        let (fault, value) = {
            let now = self.clock.now();
            let mut st = self.lock();
            let fault = self.gate(&mut st, op, key, true)?;
            self.record(now, call)?;
            (fault, apply(&mut st, now)?)
        };
        tokio::task::yield_now().await;
        match fault {
            Some(f) => Err(f.error(op)),
            None => Ok(value),
        }
    }

    /// One reading call: lets other tasks run, passes the fault gate, reads under the lock.
    async fn read<T>(
        &self,
        op: &'static str,
        key: &str,
        read: impl FnOnce(&State, Timestamp) -> Result<T>,
    ) -> Result<T> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let mut st = self.lock();
        self.gate(&mut st, op, key, false)?;
        read(&st, now)
    }

    fn doom(&self, token: &str, has_instance: bool) -> Option<Doom> {
        let u = unit(self.config.seed, &["doom", token], 0);
        if u < self.config.fail_stack_rate {
            Some(Doom::StackFails)
        } else if has_instance && u < self.config.fail_stack_rate + self.config.vanish_rate {
            Some(Doom::Vanishes)
        } else {
            None
        }
    }
}

fn ip(n: u64) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, (n & 0xff).max(4))
}

/// Up to `size` items from `items` (in key order, from the cursor on), and the cursor of the
/// next page: the last key taken, when more follow. One call reads only its own page's worth
/// of matches, so a whole listing is one pass.
fn page<K: Clone, T>(mut items: impl Iterator<Item = (K, T)>, size: usize) -> (Vec<T>, Option<K>) {
    let mut out = Vec::with_capacity(size.min(1024));
    let mut last = None;
    for (key, item) in items.by_ref() {
        if out.len() == size {
            return (out, last);
        }
        last = Some(key);
        out.push(item);
    }
    (out, None)
}

#[async_trait]
impl Cloud for SimCloud {
    async fn create_stack(&self, spec: &StackSpec) -> Result<String> {
        cfn::create_stack(self, spec).await
    }
    async fn describe_stack(&self, name_or_id: &str) -> Result<Option<StackInfo>> {
        cfn::describe_stack(self, name_or_id).await
    }
    async fn list_stacks(&self, next: Option<String>) -> Result<Page<StackInfo>> {
        cfn::list_stacks(self, next).await
    }
    async fn stack_resources(&self, stack_id: &str) -> Result<Vec<StackResource>> {
        cfn::stack_resources(self, stack_id).await
    }
    async fn stack_events(&self, stack_id: &str) -> Result<Vec<StackEvent>> {
        cfn::stack_events(self, stack_id).await
    }
    async fn delete_stack(&self, stack_id: &str) -> Result<()> {
        cfn::delete_stack(self, stack_id).await
    }
    async fn describe_instances(&self, filter: &InstanceFilter, next: Option<String>) -> Result<Page<InstanceInfo>> {
        ec2::describe_instances(self, filter, next).await
    }
    async fn start_instances(&self, ids: &[String]) -> Result<()> {
        ec2::start_instances(self, ids).await
    }
    async fn stop_instances(&self, ids: &[String]) -> Result<()> {
        ec2::stop_instances(self, ids).await
    }
    async fn reboot_instances(&self, ids: &[String]) -> Result<()> {
        ec2::reboot_instances(self, ids).await
    }
    async fn terminate_instances(&self, ids: &[String]) -> Result<()> {
        ec2::terminate_instances(self, ids).await
    }
    async fn run_job_flow(&self, spec: &ClusterSpec) -> Result<String> {
        emr::run_job_flow(self, spec).await
    }
    async fn describe_cluster(&self, id: &str) -> Result<Option<ClusterInfo>> {
        emr::describe_cluster(self, id).await
    }
    async fn list_clusters(&self, states: &[ClusterState], next: Option<String>) -> Result<Page<ClusterInfo>> {
        emr::list_clusters(self, states, next).await
    }
    async fn add_steps(&self, cluster_id: &str, steps: &[Step]) -> Result<Vec<String>> {
        emr::add_steps(self, cluster_id, steps).await
    }
    async fn list_steps(&self, cluster_id: &str) -> Result<Vec<StepInfo>> {
        emr::list_steps(self, cluster_id).await
    }
    async fn terminate_clusters(&self, ids: &[String]) -> Result<()> {
        emr::terminate_clusters(self, ids).await
    }
    async fn set_auto_termination(&self, cluster_id: &str, idle: Duration) -> Result<()> {
        emr::set_auto_termination(self, cluster_id, idle).await
    }
    async fn set_termination_protection(&self, cluster_id: &str, protected: bool) -> Result<()> {
        emr::set_termination_protection(self, cluster_id, protected).await
    }
    async fn list_instance_groups(&self, cluster_id: &str) -> Result<Vec<crate::cloud::InstanceGroupInfo>> {
        emr::list_instance_groups(self, cluster_id).await
    }
    async fn resize_instance_group(&self, cluster_id: &str, group_id: &str, count: u32) -> Result<()> {
        emr::resize_instance_group(self, cluster_id, group_id, count).await
    }
    async fn send_command(&self, spec: &CommandSpec) -> Result<String> {
        ssm::send_command(self, spec).await
    }
    async fn command_invocations(&self, command_id: &str) -> Result<Vec<CommandInvocation>> {
        ssm::command_invocations(self, command_id).await
    }
    async fn spot_price(&self, instance_type: &str, availability_zone: Option<&str>) -> Result<Option<Decimal>> {
        ec2::spot_price(self, instance_type, availability_zone).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::VirtualClock;
    use crate::cloud::{CommandStatus, StepState};
    use crate::model::{LAUNCH_ID_TAG, StackParameter, Tag};

    const INSTANCE: &str = "Resources:\n  EC2Instance: {Type: AWS::EC2::Instance}\n  Vol: {Type: AWS::EC2::Volume}\n";
    const CLUSTER: &str = "Resources:\n  SPARK: {Type: AWS::EMR::Cluster}\n";

    fn spec(name: &str, token: &str, body: &str) -> StackSpec {
        StackSpec {
            name: name.into(),
            template_body: body.into(),
            parameters: vec![StackParameter::new("InstanceType", "t3.large")],
            tags: vec![Tag::new(LAUNCH_ID_TAG, token)],
            client_request_token: token.into(),
        }
    }

    fn sim(config: SimConfig) -> (Arc<VirtualClock>, SimCloud) {
        let clock = Arc::new(VirtualClock::starting_at(Timestamp(0)));
        (clock.clone(), SimCloud::new(clock, config))
    }

    async fn wait(clock: &VirtualClock, secs: u64) {
        clock.sleep(Duration::from_secs(secs)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn instance_stack_lifecycle() {
        let (clock, cloud) = sim(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let id = cloud.create_stack(&spec("s1", "t1", INSTANCE)).await.unwrap();
        assert_eq!(cloud.create_stack(&spec("s1", "t1", INSTANCE)).await.unwrap(), id, "same token, same stack");
        assert!(matches!(cloud.create_stack(&spec("s1", "t2", INSTANCE)).await, Err(Error::AlreadyExists(_))));
        assert_eq!(cloud.describe_stack("s1").await.unwrap().unwrap().status, StackStatus::CreateInProgress);
        let res = cloud.stack_resources(&id).await.unwrap();
        let iid = res.iter().find(|r| r.resource_type == "AWS::EC2::Instance").unwrap().physical_id.clone().unwrap();
        wait(&clock, 90).await;
        let info = cloud.describe_stack(&id).await.unwrap().unwrap();
        assert_eq!(info.status, StackStatus::CreateComplete);
        assert_eq!(info.outputs, [("InstanceId".to_string(), iid.clone())]);
        let filter = InstanceFilter { ids: vec![iid.clone()], tag: None };
        let i = &cloud.describe_instances(&filter, None).await.unwrap().items[0];
        assert_eq!((i.state, i.instance_type.as_str()), (InstanceState::Running, "t3.large"));
        assert!(i.tags.iter().any(|t| t.key == LAUNCH_ID_TAG && t.value == "t1"));
        assert!(i.private_ip.is_some());

        cloud.stop_instances(std::slice::from_ref(&iid)).await.unwrap();
        assert_eq!(cloud.describe_instances(&filter, None).await.unwrap().items[0].state, InstanceState::Stopping);
        assert!(matches!(cloud.start_instances(std::slice::from_ref(&iid)).await, Err(Error::WrongState(_))));
        wait(&clock, 30).await;
        assert_eq!(cloud.describe_instances(&filter, None).await.unwrap().items[0].state, InstanceState::Stopped);
        cloud.start_instances(std::slice::from_ref(&iid)).await.unwrap();
        wait(&clock, 40).await;
        assert_eq!(cloud.describe_instances(&filter, None).await.unwrap().items[0].state, InstanceState::Running);

        cloud.delete_stack(&id).await.unwrap();
        assert_eq!(cloud.describe_stack(&id).await.unwrap().unwrap().status, StackStatus::DeleteInProgress);
        wait(&clock, 60).await;
        assert_eq!(cloud.describe_stack(&id).await.unwrap().unwrap().status, StackStatus::DeleteComplete);
        assert!(cloud.describe_stack("s1").await.unwrap().is_none(), "a deleted stack is not found by name");
        assert_eq!(cloud.describe_instances(&filter, None).await.unwrap().items[0].state, InstanceState::Terminated);
        assert!(cloud.live_stacks().is_empty());
        assert_eq!((cloud.duplicate_stacks(), cloud.running_machines()), (0, 0));
        assert_eq!(cloud.calls()["CreateStack"], 3);
    }

    #[tokio::test(start_paused = true)]
    async fn clusters_steps_and_commands() {
        let (clock, cloud) = sim(SimConfig::default());
        let id = cloud.create_stack(&spec("c1", "t1", CLUSTER)).await.unwrap();
        let cid = cloud.stack_resources(&id).await.unwrap()[0].physical_id.clone().unwrap();
        assert_eq!(cloud.describe_cluster(&cid).await.unwrap().unwrap().state, ClusterState::Starting);
        wait(&clock, 300).await;
        assert_eq!(cloud.describe_cluster(&cid).await.unwrap().unwrap().state, ClusterState::Bootstrapping);
        wait(&clock, 300).await;
        assert_eq!(cloud.describe_cluster(&cid).await.unwrap().unwrap().state, ClusterState::Waiting);
        assert_eq!(cloud.describe_stack(&id).await.unwrap().unwrap().status, StackStatus::CreateComplete);
        let step = Step::command("etl", vec![]);
        cloud.add_steps(&cid, &[step.clone(), step]).await.unwrap();
        let states = |steps: Vec<StepInfo>| steps.iter().map(|s| s.state).collect::<Vec<_>>();
        assert_eq!(states(cloud.list_steps(&cid).await.unwrap()), [StepState::Pending, StepState::Running]);
        wait(&clock, 240).await;
        assert_eq!(states(cloud.list_steps(&cid).await.unwrap()), [StepState::Completed, StepState::Completed]);
        let cmd = cloud
            .send_command(&CommandSpec { document: "MLIY-addlib".into(), cluster_id: cid.clone(), parameters: vec![] })
            .await
            .unwrap();
        assert!(cloud.command_invocations(&cmd).await.unwrap().iter().all(|i| i.status == CommandStatus::InProgress));
        wait(&clock, 20).await;
        let done = cloud.command_invocations(&cmd).await.unwrap();
        assert_eq!(done.len(), 3);
        assert!(done.iter().all(|i| i.status == CommandStatus::Success));
        cloud.set_auto_termination(&cid, Duration::from_secs(600)).await.unwrap();
        wait(&clock, 600).await;
        let idle = cloud.describe_cluster(&cid).await.unwrap().unwrap();
        assert_eq!(idle.state, ClusterState::Terminated, "{idle:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn run_job_flow_is_not_idempotent() {
        let (_, cloud) = sim(SimConfig::default());
        let spec = ClusterSpec::spark("etl", vec![Tag::new(LAUNCH_ID_TAG, "l1")]);
        cloud.run_job_flow(&spec).await.unwrap();
        cloud.run_job_flow(&spec).await.unwrap();
        assert_eq!(cloud.duplicate_stacks(), 1, "a second RunJobFlow for one launch is a duplicate");
        let page = cloud.list_clusters(&[ClusterState::Starting], None).await.unwrap();
        assert_eq!(page.items.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn faults_are_seeded_and_counted() {
        let run = |seed| async move {
            let (_, cloud) = sim(SimConfig::faulty(seed, 0.3));
            let mut outcomes = Vec::new();
            for i in 0..50 {
                let r = cloud.describe_stack(&format!("s{i}")).await;
                outcomes.push(match r {
                    Ok(_) => "ok",
                    Err(Error::Throttled(_)) => "throttled",
                    Err(Error::Unavailable(_)) => "unavailable",
                    Err(_) => "other",
                });
            }
            (outcomes, cloud.calls()["DescribeStacks"])
        };
        let (a, calls) = run(7).await;
        assert_eq!(a, run(7).await.0, "same seed, same faults");
        assert_ne!(a, run(8).await.0);
        assert_eq!(calls, 50);
        let faults = a.iter().filter(|o| **o != "ok").count();
        assert!((5..=28).contains(&faults), "{faults}");
        assert!(!a.contains(&"other"));
    }

    /// A cloud rebuilt from its journal is the cloud that wrote it.
    #[tokio::test(start_paused = true)]
    async fn the_journal_rebuilds_the_cloud() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cloud.jsonl");
        let (clock, cloud) = sim(SimConfig { fault_rate: 0.3, seed: 7, ..SimConfig::default() });
        let cloud = cloud.with_journal(&path).unwrap();
        for i in 0..8 {
            let spec = spec(&format!("s{i}"), &format!("t{i}"), INSTANCE);
            while cloud.create_stack(&spec).await.is_err() && !cloud.created(&spec.client_request_token) {}
            wait(&clock, 30).await;
        }
        let first = cloud.live_stacks()[0].clone();
        let id = cloud.describe_stack(&first.0).await.ok().flatten();
        if let Some(info) = id {
            let _ = cloud.delete_stack(&info.id).await;
        }
        wait(&clock, 600).await;
        let before = (cloud.live_stacks(), cloud.running_machines(), clock.now());
        let fresh = Arc::new(VirtualClock::starting_at(Timestamp(0)));
        let replayed =
            SimCloud::replay(fresh.clone(), SimConfig { fault_rate: 0.3, seed: 7, ..SimConfig::default() }, &path)
                .await
                .unwrap();
        tokio::time::advance(Duration::from_millis((before.2.0 - fresh.now().0) as u64)).await;
        assert_eq!((replayed.live_stacks(), replayed.running_machines()), (before.0, before.1));
        assert_eq!(replayed.duplicate_stacks(), 0);
        let written = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(written >= 8, "{written} journal lines");
    }

    #[tokio::test(start_paused = true)]
    async fn lost_answers_are_applied() {
        let (_, cloud) = sim(SimConfig { fault_rate: 1.0, ..SimConfig::default() });
        let mut applied_but_failed = 0;
        for i in 0..40 {
            let token = format!("t{i}");
            if cloud.create_stack(&spec(&format!("s{i}"), &token, INSTANCE)).await.is_err() && cloud.created(&token) {
                applied_but_failed += 1;
            }
        }
        assert!(applied_but_failed > 0, "some timeouts happen after the stack was created");
    }

    #[tokio::test(start_paused = true)]
    async fn doomed_stacks_roll_back() {
        let (clock, cloud) = sim(SimConfig { fail_stack_rate: 1.0, ..SimConfig::default() });
        let id = cloud.create_stack(&spec("s", "t", INSTANCE)).await.unwrap();
        assert_eq!(cloud.doom_of("t"), Some(Doom::StackFails));
        wait(&clock, 90).await;
        let info = cloud.describe_stack(&id).await.unwrap().unwrap();
        assert_eq!(info.status, StackStatus::RollbackComplete);
        assert!(info.reason.unwrap().contains("EC2Instance"));
        assert_eq!(cloud.live_stacks().len(), 1, "a rolled-back stack still exists until deleted");
    }
}

#[cfg(test)]
mod conformance {
    use super::*;
    use crate::clock::VirtualClock;
    use crate::testkit::cloud::CloudSuite;

    #[tokio::test(start_paused = true)]
    async fn sim_cloud_passes_the_cloud_suite() {
        let clock = Arc::new(VirtualClock::starting_at(Timestamp(0)));
        let cloud = SimCloud::new(clock.clone(), SimConfig::default());
        CloudSuite {
            cloud: &cloud,
            clock: clock.as_ref(),
            poll: (Duration::from_secs(15), 120),
            instance_template: "Resources:\n  EC2Instance: {Type: AWS::EC2::Instance}\n".into(),
            parameters: vec![crate::model::StackParameter::new("InstanceType", "t3.large")],
            cluster: ClusterSpec::spark("conf-cloud-cluster", vec![]),
            gaps: vec![],
        }
        .run_all()
        .await;
    }
}
