//! The simulated objects and their timelines: state is a function of time, evaluated when
//! asked, so nothing runs in the background.

use crate::clock::Timestamp;
use crate::cloud::{ClusterState, InstanceState, StackStatus, StepState};
use crate::model::Tag;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// How long things take in the simulated cloud.
#[derive(Debug, Clone)]
pub struct SimTimings {
    /// CREATE_IN_PROGRESS → CREATE_COMPLETE for an instance stack.
    pub stack_create: Duration,
    /// pending → running.
    pub instance_boot: Duration,
    /// stopping → stopped.
    pub instance_stop: Duration,
    /// pending → running after a start.
    pub instance_start: Duration,
    /// DELETE_IN_PROGRESS → DELETE_COMPLETE.
    pub stack_delete: Duration,
    /// STARTING → WAITING for a cluster (its stack completes then).
    pub cluster_ready: Duration,
    /// One step's run.
    pub step: Duration,
    /// A command on a node.
    pub command: Duration,
}

impl Default for SimTimings {
    fn default() -> Self {
        SimTimings {
            stack_create: Duration::from_secs(90),
            instance_boot: Duration::from_secs(60),
            instance_stop: Duration::from_secs(30),
            instance_start: Duration::from_secs(40),
            stack_delete: Duration::from_secs(60),
            cluster_ready: Duration::from_secs(600),
            step: Duration::from_secs(120),
            command: Duration::from_secs(20),
        }
    }
}

/// A value that changes at given times.
#[derive(Debug, Clone)]
pub(crate) struct Timeline<S: Copy>(pub(crate) Vec<(Timestamp, S)>);

impl<S: Copy + PartialEq> Timeline<S> {
    pub(crate) fn at(&self, now: Timestamp) -> Option<S> {
        self.0.iter().rev().find(|(t, _)| *t <= now).map(|(_, s)| *s)
    }

    /// Replaces everything after `now` with `changes` (relative to `now`).
    pub(crate) fn then(&mut self, now: Timestamp, changes: &[(Duration, S)]) {
        self.0.retain(|(t, _)| *t <= now);
        self.0.extend(changes.iter().map(|(d, s)| (now.plus(*d), *s)));
    }
}

/// Tags as the simulated cloud keeps them: lists shared between objects (a stack's with its
/// instance, the catalog's with every launch), each interned once. The order is kept
/// within each list.
///
/// A stack's id tag (`aws:cloudformation:stack-id`) is kept as the stack's id itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct SimTags {
    parts: Vec<Arc<[Tag]>>,
    stack_id: Option<Arc<str>>,
}

/// The tag CloudFormation puts on a stack and its resources.
const STACK_ID_TAG: &str = "aws:cloudformation:stack-id";

/// The tag lists the cloud holds, by content.
pub(crate) type TagLists = HashSet<Arc<[Tag]>>;

impl SimTags {
    /// `tags`, split into those naming one object (`aws:` keys, the launch id: kept in a
    /// list of their own) and the rest (interned in `lists`, shared by equal sets).
    pub(crate) fn new(tags: Vec<Tag>, lists: &mut TagLists) -> SimTags {
        SimTags::of_stack(tags, None, lists)
    }

    /// [`SimTags::new`], with stack `id`'s id tag after them (when given).
    pub(crate) fn of_stack(tags: Vec<Tag>, id: Option<Arc<str>>, lists: &mut TagLists) -> SimTags {
        let (own, common): (Vec<Tag>, Vec<Tag>) =
            tags.into_iter().partition(|t| t.key.starts_with("aws:") || t.key == crate::model::LAUNCH_ID_TAG);
        let mut parts = Vec::new();
        if !common.is_empty() {
            parts.push(intern(common, lists));
        }
        if !own.is_empty() {
            parts.push(Arc::from(own));
        }
        SimTags { parts, stack_id: id }
    }

    /// These tags and `more` (interned), the stack's id tag still last.
    pub(crate) fn with(&self, more: Vec<Tag>, lists: &mut TagLists) -> SimTags {
        let mut parts = self.parts.clone();
        parts.push(intern(more, lists));
        SimTags { parts, stack_id: self.stack_id.clone() }
    }

    pub(crate) fn to_vec(&self) -> Vec<Tag> {
        let listed = self.parts.iter().flat_map(|part| part.iter()).cloned();
        listed.chain(self.stack_id.as_deref().map(|id| Tag::new(STACK_ID_TAG, id))).collect()
    }

    pub(crate) fn has(&self, key: &str, value: &str) -> bool {
        self.parts.iter().flat_map(|part| part.iter()).any(|t| t.key == key && t.value == value)
            || (key == STACK_ID_TAG && self.stack_id.as_deref() == Some(value))
    }
}

fn intern(tags: Vec<Tag>, lists: &mut TagLists) -> Arc<[Tag]> {
    if let Some(found) = lists.get(tags.as_slice()) {
        return Arc::clone(found);
    }
    let list: Arc<[Tag]> = Arc::from(tags);
    lists.insert(Arc::clone(&list));
    list
}

/// How a launch is doomed to go wrong (decided by the seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doom {
    /// Its stack fails to create and rolls back.
    StackFails,
    /// Its instance dies on its own while bootstrapping.
    Vanishes,
}

#[derive(Debug, Clone)]
pub(crate) struct SimStack {
    /// Its id, ending in its place among the stacks (see `State::stack_index`).
    pub(crate) id: Arc<str>,
    pub(crate) name: String,
    pub(crate) token: String,
    pub(crate) tags: SimTags,
    pub(crate) created: Timestamp,
    pub(crate) ready_after: Duration,
    pub(crate) doom: Option<Doom>,
    pub(crate) deleted: Option<Timestamp>,
    pub(crate) delete_takes: Duration,
    /// Its resources: the template's, with their physical ids.
    pub(crate) resources: StackResources,
    /// The `UserData` parameter, as sent.
    pub(crate) user_data: Option<std::sync::Arc<str>>,
    /// The instance's `ResourceSignal` policy: the stack completes when it is signalled, and
    /// fails when its timeout passes first.
    pub(crate) gate: Option<Box<SignalGate>>,
}

/// A stack's resources: logical ids and types from its (shared) template, physical ids of
/// its own.
#[derive(Debug, Clone)]
pub(crate) struct StackResources {
    pub(crate) template: Arc<crate::template::Template>,
    /// In the template's order.
    pub(crate) physical: Vec<String>,
}

impl StackResources {
    /// (logical id, type, physical id) of each.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        let declared = self.template.resources.iter();
        declared.zip(&self.physical).map(|((logical, ty), physical)| (logical.as_str(), ty.as_str(), physical.as_str()))
    }
}

/// What a bootstrap script finds out about itself (see [`SimCloud::bootstrap_view`]).
///
/// [`SimCloud::bootstrap_view`]: super::SimCloud::bootstrap_view
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapView {
    /// Its stack's id.
    pub stack_id: String,
    /// Its instance's id (what the instance metadata service answers).
    pub instance_id: String,
    /// Whether the instance runs now.
    pub running: bool,
    /// The logical id of its resource whose signal the stack still waits for.
    pub awaited_signal: Option<String>,
}

/// A resource waiting for its signal.
#[derive(Debug, Clone)]
pub(crate) struct SignalGate {
    pub(crate) logical_id: String,
    pub(crate) timeout: Duration,
    pub(crate) signalled: Option<Timestamp>,
}

/// How long a rollback takes after a missed signal.
pub(crate) const ROLLBACK: Duration = Duration::from_secs(60);

impl SimStack {
    pub(crate) fn status(&self, now: Timestamp) -> StackStatus {
        if let Some(at) = self.deleted {
            return if now < at.plus(self.delete_takes) {
                StackStatus::DeleteInProgress
            } else {
                StackStatus::DeleteComplete
            };
        }
        let since = now.since(self.created);
        if let (Some(gate), None) = (&self.gate, self.doom) {
            return match gate.signalled {
                Some(at) if at <= now => StackStatus::CreateComplete,
                _ if since < gate.timeout => StackStatus::CreateInProgress,
                _ if since < gate.timeout + ROLLBACK => StackStatus::RollbackInProgress,
                _ => StackStatus::RollbackComplete,
            };
        }
        match self.doom {
            Some(Doom::StackFails) if since < self.ready_after / 2 => StackStatus::CreateInProgress,
            Some(Doom::StackFails) if since < self.ready_after => StackStatus::RollbackInProgress,
            Some(Doom::StackFails) => StackStatus::RollbackComplete,
            _ if since < self.ready_after => StackStatus::CreateInProgress,
            _ => StackStatus::CreateComplete,
        }
    }

    pub(crate) fn is_live(&self, now: Timestamp) -> bool {
        self.status(now) != StackStatus::DeleteComplete
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SimInstance {
    pub(crate) id: String,
    pub(crate) instance_type: String,
    /// Its private address's serial (see `sim::ip`).
    pub(crate) ip: u64,
    pub(crate) tags: SimTags,
    pub(crate) state: Timeline<InstanceState>,
    /// Not yet visible to DescribeInstances before this time (eventual consistency).
    pub(crate) visible_from: Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) struct SimStep {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) added: Timestamp,
    pub(crate) fails: bool,
    /// Its jar's arguments, as sent.
    pub(crate) args: Vec<String>,
    /// What its failure does to the steps after it.
    pub(crate) action: Option<crate::model::emr::ActionOnFailure>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimCluster {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) tags: SimTags,
    pub(crate) master_ip: String,
    pub(crate) nodes: u32,
    pub(crate) state: Timeline<ClusterState>,
    pub(crate) steps: Vec<SimStep>,
    pub(crate) idle_timeout: Option<Duration>,
    /// Termination protection: TerminateJobFlows refuses the cluster while on.
    pub(crate) protected: bool,
    /// Its instance groups (RunJobFlow's): id, role, type, nodes.
    pub(crate) groups: Vec<crate::cloud::InstanceGroupInfo>,
}

impl SimCluster {
    /// Each step's state: steps run one after another once the cluster is RUNNING. A failed
    /// step's `ActionOnFailure` decides the rest, as in EMR: CONTINUE runs them, CANCEL_AND_WAIT
    /// cancels those already queued, and a terminating action (EMR's default) cancels every
    /// later step (the cluster itself is not ended here).
    pub(crate) fn step_states(&self, now: Timestamp, step: Duration) -> Vec<StepState> {
        use crate::model::emr::ActionOnFailure;
        let running_from = self.state.0.iter().find(|(_, s)| *s == ClusterState::Running).map(|(t, _)| *t);
        let ended =
            self.state.0.iter().find(|(_, s)| s.is_terminated() || *s == ClusterState::Terminating).map(|(t, _)| *t);
        let mut free_at = running_from;
        let mut failed_before = false;
        let mut cancel_queued_by: Option<Timestamp> = None;
        self.steps
            .iter()
            .map(|s| {
                if failed_before || cancel_queued_by.is_some_and(|t| s.added <= t) {
                    return StepState::Cancelled;
                }
                let Some(free) = free_at else { return StepState::Pending };
                let start = free.max(s.added);
                let end = start.plus(step);
                free_at = Some(end);
                let state = match ended {
                    Some(e) if e <= start.min(now) => StepState::Cancelled,
                    Some(e) if e < end && e <= now => StepState::Interrupted,
                    _ if now < start => StepState::Pending,
                    _ if now < end => StepState::Running,
                    _ if s.fails => StepState::Failed,
                    _ => StepState::Completed,
                };
                if state == StepState::Failed {
                    match s.action {
                        Some(ActionOnFailure::Continue) => {}
                        Some(ActionOnFailure::CancelAndWait) => cancel_queued_by = Some(end),
                        _ => failed_before = true,
                    }
                }
                state
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timelines() {
        let mut t = Timeline(vec![(Timestamp(0), 1), (Timestamp(10), 2)]);
        assert_eq!((t.at(Timestamp(5)), t.at(Timestamp(10)), t.at(Timestamp(-1))), (Some(1), Some(2), None));
        t.then(Timestamp(5), &[(Duration::ZERO, 3), (Duration::from_millis(2), 4)]);
        assert_eq!((t.at(Timestamp(6)), t.at(Timestamp(7)), t.at(Timestamp(100))), (Some(3), Some(4), Some(4)));
    }
}
