//! `SimCloud`: a deterministic in-process CloudFormation / EC2 / EMR / SSM in virtual time.
//!
//! Stacks go CREATE_IN_PROGRESS → CREATE_COMPLETE (or CREATE_FAILED → ROLLBACK_COMPLETE when
//! doomed) and create the instances, volumes and clusters their template declares, tagged;
//! instances go pending → running → stopping → stopped …; clusters STARTING → BOOTSTRAPPING →
//! RUNNING → WAITING; steps PENDING → RUNNING → COMPLETED/FAILED. Faults come from the seed:
//! throttling, 5xx, lost answers (the call was applied but the caller gets a timeout), new
//! instances that are not visible yet, stacks that fail and instances that vanish. Every API
//! call is counted by operation.

mod faults;
pub mod fleet;
mod journal;
mod objects;
mod replica;
pub mod scenario;

pub use objects::{Doom, SimTimings};

use crate::clock::{Clock, Timestamp};
use crate::cloud::{
    Cloud, ClusterInfo, ClusterState, CommandInvocation, CommandSpec, CommandStatus, InstanceFilter, InstanceInfo,
    InstanceState, Page, StackInfo, StackResource, StackStatus, StepInfo, StepState,
};
use crate::error::{Error, Result};
use crate::model::{ClusterSpec, LAUNCH_ID_TAG, StackSpec, StepSpec, Tag};
use async_trait::async_trait;
use faults::{Fault, unit};
use journal::{Journal, Mutation};
use objects::{SimCluster, SimInstance, SimStack, SimStep, Timeline};
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

#[derive(Debug, Default)]
struct State {
    stacks: Vec<SimStack>,
    instances: BTreeMap<String, SimInstance>,
    clusters: BTreeMap<String, SimCluster>,
    commands: HashMap<String, (Timestamp, Vec<String>, bool)>,
    calls: BTreeMap<&'static str, u64>,
    /// Mutating calls that found their target already in the state asked for.
    double_actions: u64,
    attempts: HashMap<(&'static str, String), u64>,
    created_per_token: HashMap<String, u32>,
    resource_types: HashMap<Arc<str>, Arc<Vec<(String, String)>>>,
    next: u64,
}

impl State {
    fn next(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn stack_index(&self, name_or_id: &str, now: Timestamp) -> Option<usize> {
        self.stacks
            .iter()
            .rposition(|s| s.id == name_or_id)
            .or_else(|| self.stacks.iter().rposition(|s| s.name == name_or_id && s.is_live(now)))
    }
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

    /// The user data (base64, as sent) of the stack created with `token`.
    pub fn user_data_of(&self, token: &str) -> Option<String> {
        self.lock().stacks.iter().find(|s| s.token == token).and_then(|s| s.user_data.clone())
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
        self.lock().stacks.iter().find(|s| s.token == token).and_then(|s| s.doom)
    }

    /// Whether a stack was ever created for `token`.
    pub fn created(&self, token: &str) -> bool {
        self.lock().created_per_token.contains_key(token)
    }

    /// Counts the call and decides its fault: `Err` refuses it, `Ok(Some(LostAnswer))` applies
    /// it but answers with an error.
    fn gate(&self, st: &mut State, op: &'static str, key: &str, mutating: bool) -> Result<Option<Fault>> {
        if self.frozen.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Unavailable(format!("{op}: the caller is frozen (simulated crash)")));
        }
        *st.calls.entry(op).or_default() += 1;
        let n = st.attempts.entry((op, key.to_string())).or_default();
        *n += 1;
        let seed = self.config.seed;
        let rate = f64::from_bits(self.fault_rate.load(std::sync::atomic::Ordering::Relaxed));
        if rate <= 0.0 || unit(seed, &["fault", op, key], *n) >= rate {
            return Ok(None);
        }
        match Fault::pick(unit(seed, &["kind", op, key], *n), mutating) {
            Fault::LostAnswer => Ok(Some(Fault::LostAnswer)),
            refused => Err(refused.error(op)),
        }
    }

    fn answer<T>(fault: Option<Fault>, op: &str, value: T) -> Result<T> {
        match fault {
            Some(f) => Err(f.error(op)),
            None => Ok(value),
        }
    }

    /// Answers a mutating call after letting other tasks run, so that a crash can fall
    /// between the cloud applying a call and the caller hearing of it.
    async fn applied<T>(fault: Option<Fault>, op: &str, value: T) -> Result<T> {
        tokio::task::yield_now().await;
        Self::answer(fault, op, value)
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

    fn resource_types(&self, st: &mut State, spec: &StackSpec) -> Result<Arc<Vec<(String, String)>>> {
        if let Some(found) = st.resource_types.get(&*spec.template_body) {
            return Ok(Arc::clone(found));
        }
        let template = crate::template::Template::parse(&spec.name, &spec.template_body)
            .map_err(|e| Error::validation("TemplateBody", &spec.name, format!("Template format error: {e}")))?;
        let types = Arc::new(template.resources);
        st.resource_types.insert(spec.template_body.clone(), Arc::clone(&types));
        Ok(types)
    }

    fn new_cluster(
        &self,
        st: &mut State,
        name: &str,
        tags: Vec<Tag>,
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
        };
        st.clusters.insert(id.clone(), cluster);
        id
    }

    /// A cluster's state now, with idle auto-termination applied.
    fn cluster_state(&self, c: &SimCluster, now: Timestamp) -> (ClusterState, Option<String>) {
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
            tags: c.tags.clone(),
        }
    }

    fn stack_info(&self, s: &SimStack, now: Timestamp) -> StackInfo {
        let status = s.status(now);
        let outputs = if status == StackStatus::CreateComplete {
            s.resources
                .iter()
                .filter_map(|(_, ty, physical)| match ty.as_str() {
                    "AWS::EC2::Instance" => Some(("InstanceId".to_string(), physical.clone())),
                    "AWS::EMR::Cluster" => Some(("ClusterID".to_string(), physical.clone())),
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        let reason = status.is_failed_creation().then(|| {
            let failed: Vec<&str> = s.resources.iter().map(|(l, ..)| l.as_str()).collect();
            format!("The following resource(s) failed to create: [{}] (simulated)", failed.join(", "))
        });
        StackInfo { id: s.id.clone(), name: s.name.clone(), status, reason, outputs, tags: s.tags.clone() }
    }

    /// Applies `f` to each instance (all must exist; `f` says whether the instance already
    /// was as asked); returns the call's fault, if any.
    fn with_instances(
        &self,
        op: &'static str,
        ids: &[String],
        f: impl Fn(&mut SimInstance, Timestamp) -> Result<bool>,
    ) -> Result<Option<Fault>> {
        let now = self.clock.now();
        let mut st = self.lock();
        let fault = self.gate(&mut st, op, &ids.join(","), true)?;
        self.record(now, || match op {
            "StartInstances" => Mutation::StartInstances(ids.to_vec()),
            "StopInstances" => Mutation::StopInstances(ids.to_vec()),
            _ => Mutation::RebootInstances(ids.to_vec()),
        })?;
        for id in ids {
            if !st.instances.contains_key(id) {
                return Err(Error::NotFound { kind: "instance", name: id.clone() });
            }
        }
        for id in ids {
            if let Some(instance) = st.instances.get_mut(id)
                && f(instance, now)?
            {
                st.double_actions += 1;
            }
        }
        Ok(fault)
    }
}

fn ip(n: u64) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, (n & 0xff).max(4))
}

fn incorrect_state(id: &str, state: InstanceState) -> Error {
    Error::Conflict(format!("IncorrectInstanceState: instance {id} is {state:?}"))
}

fn page<T>(items: Vec<T>, next: Option<String>, size: usize) -> Page<T> {
    let start = next.and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    let end = (start + size).min(items.len());
    let more = (end < items.len()).then(|| end.to_string());
    Page { items: items.into_iter().skip(start).take(end.saturating_sub(start)).collect(), next: more }
}

#[async_trait]
impl Cloud for SimCloud {
    async fn create_stack(&self, spec: &StackSpec) -> Result<String> {
        tokio::task::yield_now().await;
        let (fault, value) = (|| -> Result<(Option<Fault>, String)> {
            let now = self.clock.now();
            let mut st = self.lock();
            let token = spec.client_request_token.clone();
            let fault = self.gate(&mut st, "CreateStack", &token, true)?;
            self.record(now, || Mutation::CreateStack(spec.clone()))?;
            if let Some(existing) = st.stacks.iter().find(|s| s.token == token) {
                let id = existing.id.clone();
                return Ok((fault, id));
            }
            if st.stacks.iter().any(|s| s.name == spec.name && s.is_live(now)) {
                return Err(Error::Conflict(format!("AlreadyExistsException: stack {} already exists", spec.name)));
            }
            let types = self.resource_types(&mut st, spec)?;
            let has_instance = types.iter().any(|(_, t)| t == "AWS::EC2::Instance");
            let has_cluster = types.iter().any(|(_, t)| t == "AWS::EMR::Cluster");
            let doom = self.doom(&token, has_instance);
            let n = st.next();
            let id = format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{}/{n:08x}-sim", spec.name);
            let t = &self.config.timings;
            let ready_after = if has_cluster { t.cluster_ready } else { t.stack_create };
            let param = |k: &str| spec.parameters.iter().find(|p| p.key == k).map(|p| p.value.clone());
            let mut stack_tags = spec.tags.clone();
            stack_tags.push(Tag::new("aws:cloudformation:stack-id", &id));
            let mut resources = Vec::new();
            for (logical, ty) in types.iter() {
                let m = st.next();
                let physical = match ty.as_str() {
                    "AWS::EC2::Instance" => {
                        let iid = format!("i-{m:017x}");
                        let state = match doom {
                            Some(Doom::StackFails) => Timeline(vec![
                                (now, InstanceState::Pending),
                                (now.plus(ready_after / 2), InstanceState::ShuttingDown),
                                (now.plus(ready_after), InstanceState::Terminated),
                            ]),
                            Some(Doom::Vanishes) => Timeline(vec![
                                (now, InstanceState::Pending),
                                (now.plus(t.instance_boot), InstanceState::Running),
                                (now.plus(ready_after + Duration::from_secs(60)), InstanceState::ShuttingDown),
                                (now.plus(ready_after + Duration::from_secs(90)), InstanceState::Terminated),
                            ]),
                            None => Timeline(vec![
                                (now, InstanceState::Pending),
                                (now.plus(t.instance_boot), InstanceState::Running),
                            ]),
                        };
                        let hidden = unit(self.config.seed, &["hidden", &iid], 0) < 0.5;
                        let mut tags = stack_tags.clone();
                        tags.push(Tag::new("aws:cloudformation:logical-id", logical));
                        let instance = SimInstance {
                            id: iid.clone(),
                            instance_type: param("InstanceType").unwrap_or_else(|| "m5.large".into()),
                            ip: ip(m),
                            tags,
                            state,
                            visible_from: if hidden { now.plus(self.config.consistency_delay) } else { now },
                        };
                        st.instances.insert(iid.clone(), instance);
                        iid
                    }
                    "AWS::EC2::Volume" => format!("vol-{m:017x}"),
                    "AWS::EMR::Cluster" => {
                        let core = param("paramCoreInstanceCount").and_then(|c| c.parse().ok()).unwrap_or(2);
                        let name = param("paramClusterName").unwrap_or_else(|| spec.name.clone());
                        self.new_cluster(&mut st, &name, stack_tags.clone(), 1 + core, doom.is_some(), now)
                    }
                    _ => format!("{logical}-{m:08x}"),
                };
                resources.push((logical.clone(), ty.clone(), physical));
            }
            st.stacks.push(SimStack {
                id: id.clone(),
                name: spec.name.clone(),
                token: token.clone(),
                tags: stack_tags,
                created: now,
                ready_after,
                doom,
                deleted: None,
                delete_takes: t.stack_delete,
                resources,
                user_data: param("UserData"),
            });
            *st.created_per_token.entry(token).or_default() += 1;
            Ok((fault, id))
        })()?;
        Self::applied(fault, "CreateStack", value).await
    }

    async fn describe_stack(&self, name_or_id: &str) -> Result<Option<StackInfo>> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let mut st = self.lock();
        self.gate(&mut st, "DescribeStacks", name_or_id, false)?;
        Ok(st.stack_index(name_or_id, now).map(|i| self.stack_info(&st.stacks[i], now)))
    }

    async fn list_stacks(&self, next: Option<String>) -> Result<Page<StackInfo>> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let mut st = self.lock();
        self.gate(&mut st, "ListStacks", next.as_deref().unwrap_or(""), false)?;
        let live: Vec<StackInfo> =
            st.stacks.iter().filter(|s| s.is_live(now)).map(|s| self.stack_info(s, now)).collect();
        Ok(page(live, next, 100))
    }

    async fn stack_resources(&self, stack_id: &str) -> Result<Vec<StackResource>> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let mut st = self.lock();
        self.gate(&mut st, "DescribeStackResources", stack_id, false)?;
        let i =
            st.stack_index(stack_id, now).ok_or_else(|| Error::NotFound { kind: "stack", name: stack_id.into() })?;
        let s = &st.stacks[i];
        let status = match s.status(now) {
            StackStatus::CreateComplete => "CREATE_COMPLETE",
            StackStatus::CreateInProgress => "CREATE_IN_PROGRESS",
            StackStatus::DeleteInProgress => "DELETE_IN_PROGRESS",
            StackStatus::DeleteComplete => "DELETE_COMPLETE",
            _ => "CREATE_FAILED",
        };
        Ok(s.resources
            .iter()
            .map(|(logical, ty, physical)| StackResource {
                logical_id: logical.clone(),
                resource_type: ty.clone(),
                physical_id: Some(physical.clone()),
                status: status.to_string(),
            })
            .collect())
    }

    async fn delete_stack(&self, stack_id: &str) -> Result<()> {
        tokio::task::yield_now().await;
        let (fault, value) = (|| -> Result<(Option<Fault>, ())> {
            let now = self.clock.now();
            let mut st = self.lock();
            let fault = self.gate(&mut st, "DeleteStack", stack_id, true)?;
            self.record(now, || Mutation::DeleteStack(stack_id.to_string()))?;
            let Some(i) = st.stack_index(stack_id, now).filter(|i| st.stacks[*i].deleted.is_none()) else {
                st.double_actions += u64::from(st.stack_index(stack_id, now).is_some());
                return Ok((fault, ()));
            };
            st.stacks[i].deleted = Some(now);
            let half = self.config.timings.stack_delete / 2;
            let resources = st.stacks[i].resources.clone();
            for (_, ty, physical) in resources {
                match ty.as_str() {
                    "AWS::EC2::Instance" => {
                        if let Some(inst) = st.instances.get_mut(&physical)
                            && inst.state.at(now) != Some(InstanceState::Terminated)
                        {
                            inst.state.then(
                                now,
                                &[(Duration::ZERO, InstanceState::ShuttingDown), (half, InstanceState::Terminated)],
                            );
                        }
                    }
                    "AWS::EMR::Cluster" => {
                        if let Some(c) = st.clusters.get_mut(&physical)
                            && !c.state.at(now).is_some_and(ClusterState::is_terminated)
                        {
                            c.state.then(
                                now,
                                &[(Duration::ZERO, ClusterState::Terminating), (half, ClusterState::Terminated)],
                            );
                        }
                    }
                    _ => {}
                }
            }
            Ok((fault, ()))
        })()?;
        Self::applied(fault, "DeleteStack", value).await
    }

    async fn describe_instances(&self, filter: &InstanceFilter, next: Option<String>) -> Result<Page<InstanceInfo>> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let mut st = self.lock();
        let key = format!("{}|{:?}|{}", filter.ids.join(","), filter.tag, next.as_deref().unwrap_or(""));
        self.gate(&mut st, "DescribeInstances", &key, false)?;
        let matching: Vec<&SimInstance> = st
            .instances
            .values()
            .filter(|i| i.visible_from <= now)
            .filter(|i| filter.ids.is_empty() || filter.ids.contains(&i.id))
            .filter(|i| filter.tag.as_ref().is_none_or(|(k, v)| i.tags.iter().any(|t| t.key == *k && t.value == *v)))
            .collect();
        // Only the page's instances are built.
        let Page { items, next } = page(matching, next, 1000);
        let items = items
            .into_iter()
            .map(|i| {
                let state = i.state.at(now).unwrap_or(InstanceState::Pending);
                InstanceInfo {
                    id: i.id.clone(),
                    state,
                    instance_type: i.instance_type.clone(),
                    private_ip: matches!(
                        state,
                        InstanceState::Running | InstanceState::Stopping | InstanceState::Stopped
                    )
                    .then(|| i.ip.clone()),
                    availability_zone: Some("us-east-1a".into()),
                    tags: i.tags.clone(),
                }
            })
            .collect();
        Ok(Page { items, next })
    }

    async fn start_instances(&self, ids: &[String]) -> Result<()> {
        tokio::task::yield_now().await;
        let t = self.config.timings.instance_start;
        let fault = self.with_instances("StartInstances", ids, |i, now| match i.state.at(now) {
            Some(InstanceState::Stopped) => {
                i.state.then(now, &[(Duration::ZERO, InstanceState::Pending), (t, InstanceState::Running)]);
                Ok(false)
            }
            Some(InstanceState::Running | InstanceState::Pending) => Ok(true),
            Some(other) => Err(incorrect_state(&i.id, other)),
            None => Ok(false),
        })?;
        Self::applied(fault, "StartInstances", ()).await
    }

    async fn stop_instances(&self, ids: &[String]) -> Result<()> {
        tokio::task::yield_now().await;
        let t = self.config.timings.instance_stop;
        let fault = self.with_instances("StopInstances", ids, |i, now| match i.state.at(now) {
            Some(InstanceState::Running | InstanceState::Pending) => {
                i.state.then(now, &[(Duration::ZERO, InstanceState::Stopping), (t, InstanceState::Stopped)]);
                Ok(false)
            }
            Some(InstanceState::Stopping | InstanceState::Stopped) => Ok(true),
            None => Ok(false),
            Some(other) => Err(incorrect_state(&i.id, other)),
        })?;
        Self::applied(fault, "StopInstances", ()).await
    }

    async fn reboot_instances(&self, ids: &[String]) -> Result<()> {
        tokio::task::yield_now().await;
        let fault = self.with_instances("RebootInstances", ids, |i, now| match i.state.at(now) {
            Some(InstanceState::Running) | None => Ok(false),
            Some(other) => Err(incorrect_state(&i.id, other)),
        })?;
        Self::applied(fault, "RebootInstances", ()).await
    }

    async fn run_job_flow(&self, spec: &ClusterSpec) -> Result<String> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let (fault, id) = {
            let mut st = self.lock();
            let fault = self.gate(&mut st, "RunJobFlow", &spec.name, true)?;
            self.record(now, || Mutation::RunJobFlow(spec.clone()))?;
            let launch =
                spec.tags.iter().find(|t| t.key == LAUNCH_ID_TAG).map_or(spec.name.clone(), |t| t.value.clone());
            let doomed = self.doom(&launch, false).is_some();
            let nodes = 1 + spec.core_nodes + spec.task_nodes;
            let id = self.new_cluster(&mut st, &spec.name, spec.tags.clone(), nodes, doomed, now);
            *st.created_per_token.entry(launch).or_default() += 1;
            if let Some(c) = st.clusters.get_mut(&id) {
                c.idle_timeout = spec.idle_timeout_seconds.map(Duration::from_secs);
            }
            (fault, id)
        };
        if !spec.steps.is_empty() {
            self.push_steps(&id, &spec.steps, now)?;
        }
        Self::applied(fault, "RunJobFlow", id).await
    }

    async fn describe_cluster(&self, id: &str) -> Result<Option<ClusterInfo>> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let mut st = self.lock();
        self.gate(&mut st, "DescribeCluster", id, false)?;
        Ok(st.clusters.get(id).map(|c| self.cluster_info(c, now)))
    }

    async fn list_clusters(&self, states: &[ClusterState], next: Option<String>) -> Result<Page<ClusterInfo>> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let mut st = self.lock();
        self.gate(&mut st, "ListClusters", next.as_deref().unwrap_or(""), false)?;
        let items: Vec<ClusterInfo> = st
            .clusters
            .values()
            // As EMR's ListClusters: summaries, without tags or the master's address.
            .map(|c| ClusterInfo { tags: Vec::new(), master_private_ip: None, ..self.cluster_info(c, now) })
            .filter(|c| states.is_empty() || states.contains(&c.state))
            .collect();
        Ok(page(items, next, 50))
    }

    async fn add_steps(&self, cluster_id: &str, steps: &[StepSpec]) -> Result<Vec<String>> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let fault = {
            let mut st = self.lock();
            let fault = self.gate(&mut st, "AddJobFlowSteps", cluster_id, true)?;
            self.record(now, || Mutation::AddSteps(cluster_id.to_string(), steps.to_vec()))?;
            fault
        };
        let ids = self.push_steps(cluster_id, steps, now)?;
        Self::applied(fault, "AddJobFlowSteps", ids).await
    }

    async fn list_steps(&self, cluster_id: &str) -> Result<Vec<StepInfo>> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let mut st = self.lock();
        self.gate(&mut st, "ListSteps", cluster_id, false)?;
        let c =
            st.clusters.get(cluster_id).ok_or_else(|| Error::NotFound { kind: "cluster", name: cluster_id.into() })?;
        let states = c.step_states(now, self.config.timings.step);
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
    }

    async fn terminate_clusters(&self, ids: &[String]) -> Result<()> {
        tokio::task::yield_now().await;
        let (fault, value) = (|| -> Result<(Option<Fault>, ())> {
            let now = self.clock.now();
            let mut st = self.lock();
            let fault = self.gate(&mut st, "TerminateJobFlows", &ids.join(","), true)?;
            self.record(now, || Mutation::TerminateClusters(ids.to_vec()))?;
            let half = self.config.timings.stack_delete / 2;
            for id in ids {
                let c = st
                    .clusters
                    .get_mut(id)
                    .ok_or_else(|| Error::validation("JobFlowIds", id.as_str(), "no such cluster"))?;
                if matches!(c.state.at(now), Some(ClusterState::Terminating | ClusterState::Terminated)) {
                    st.double_actions += 1;
                } else if !c.state.at(now).is_some_and(ClusterState::is_terminated) {
                    c.state.then(now, &[(Duration::ZERO, ClusterState::Terminating), (half, ClusterState::Terminated)]);
                }
            }
            Ok((fault, ()))
        })()?;
        Self::applied(fault, "TerminateJobFlows", value).await
    }

    async fn set_auto_termination(&self, cluster_id: &str, idle: Duration) -> Result<()> {
        tokio::task::yield_now().await;
        let (fault, value) = (|| -> Result<(Option<Fault>, ())> {
            let mut st = self.lock();
            let fault = self.gate(&mut st, "PutAutoTerminationPolicy", cluster_id, true)?;
            self.record(self.clock.now(), || Mutation::SetAutoTermination(cluster_id.to_string(), idle.as_secs()))?;
            let c = st
                .clusters
                .get_mut(cluster_id)
                .ok_or_else(|| Error::NotFound { kind: "cluster", name: cluster_id.into() })?;
            c.idle_timeout = Some(idle);
            Ok((fault, ()))
        })()?;
        Self::applied(fault, "PutAutoTerminationPolicy", value).await
    }

    async fn send_command(&self, spec: &CommandSpec) -> Result<String> {
        tokio::task::yield_now().await;
        let (fault, value) = (|| -> Result<(Option<Fault>, String)> {
            let now = self.clock.now();
            let mut st = self.lock();
            let fault = self.gate(&mut st, "SendCommand", &spec.cluster_id, true)?;
            self.record(now, || Mutation::SendCommand(spec.clone()))?;
            let c = st
                .clusters
                .get(&spec.cluster_id)
                .ok_or_else(|| Error::NotFound { kind: "cluster", name: spec.cluster_id.clone() })?;
            if self.cluster_state(c, now).0.is_terminated() {
                return Err(Error::validation("Targets", spec.cluster_id.as_str(), "the cluster has no running nodes"));
            }
            let nodes: Vec<String> = (0..c.nodes).map(|i| format!("{}-node-{i}", c.id)).collect();
            let n = st.next();
            let id = format!("cmd-{n:012x}");
            let fails = unit(self.config.seed, &["command", &id], 0) < self.config.fail_stack_rate;
            st.commands.insert(id.clone(), (now, nodes, fails));
            Ok((fault, id))
        })()?;
        Self::applied(fault, "SendCommand", value).await
    }

    async fn command_invocations(&self, command_id: &str) -> Result<Vec<CommandInvocation>> {
        tokio::task::yield_now().await;
        let now = self.clock.now();
        let mut st = self.lock();
        self.gate(&mut st, "ListCommandInvocations", command_id, false)?;
        let (sent, nodes, fails) =
            st.commands.get(command_id).ok_or_else(|| Error::NotFound { kind: "command", name: command_id.into() })?;
        let done = now >= sent.plus(self.config.timings.command);
        Ok(nodes
            .iter()
            .map(|n| CommandInvocation {
                instance_id: n.clone(),
                status: match (done, fails) {
                    (false, _) => CommandStatus::InProgress,
                    (true, true) => CommandStatus::Failed,
                    (true, false) => CommandStatus::Success,
                },
            })
            .collect())
    }

    async fn spot_price(&self, instance_type: &str, availability_zone: &str) -> Result<Option<f64>> {
        tokio::task::yield_now().await;
        let mut st = self.lock();
        self.gate(&mut st, "DescribeSpotPriceHistory", instance_type, false)?;
        let u = unit(self.config.seed, &["spot", instance_type, availability_zone], 0);
        Ok(Some(((0.05 + u * 0.5) * 10_000.0).round() / 10_000.0))
    }
}

impl SimCloud {
    fn push_steps(&self, cluster_id: &str, steps: &[StepSpec], now: Timestamp) -> Result<Vec<String>> {
        let mut st = self.lock();
        let seed = self.config.seed;
        let rate = self.config.fail_step_rate;
        let mut ids = Vec::new();
        let mut new_steps = Vec::new();
        for s in steps {
            let n = st.next();
            let id = format!("s-{n:013X}");
            let fails = unit(seed, &["step", cluster_id, &s.name], 0) < rate;
            new_steps.push(SimStep { id: id.clone(), name: s.name.clone(), added: now, fails });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::VirtualClock;
    use crate::model::StackParameter;

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
        assert!(matches!(cloud.create_stack(&spec("s1", "t2", INSTANCE)).await, Err(Error::Conflict(_))));
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
        assert!(matches!(cloud.start_instances(std::slice::from_ref(&iid)).await, Err(Error::Conflict(_))));
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
        let step = StepSpec { name: "etl".into(), jar: "command-runner.jar".into(), args: vec![] };
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
