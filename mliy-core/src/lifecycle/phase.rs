//! Phases, events and the pure transition function.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What is launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// An EC2 instance.
    Instance,
    /// An EMR cluster.
    Cluster,
}

impl ResourceKind {
    /// `instance` or `cluster`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::Instance => "instance",
            ResourceKind::Cluster => "cluster",
        }
    }
}

/// Where a resource is in its life.
///
/// Instances: Requested → CreatingStack → Provisioning → Bootstrapping → Ready; Ready ⇄
/// Stopping → Stopped → Starting → Ready; Ready → Rebooting → Ready; → Terminating →
/// Terminated; any → Failed. Clusters follow EMR: Requested → CreatingStack → Starting →
/// Bootstrapping → Running ⇄ Waiting → Terminating → Terminated | TerminatedWithErrors; any →
/// Failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Recorded, nothing sent to the cloud yet.
    Requested,
    /// CreateStack sent (or about to be); waiting for CREATE_COMPLETE.
    CreatingStack,
    /// Instance: the stack is up, the instance is not running yet.
    Provisioning,
    /// Instance: starting after a stop. Cluster: EMR's STARTING.
    Starting,
    /// Running its bootstrap; progress as reported by it.
    Bootstrapping {
        /// 0–100.
        percent: u8,
        /// What it is doing.
        message: String,
        /// Instance: the stack is still `CREATE_IN_PROGRESS` (it waits for the bootstrap's
        /// resource signal); the instance exists and reports. The driver keeps watching the
        /// stack, as in `CreatingStack`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stack_creating: bool,
    },
    /// Instance: usable.
    Ready,
    /// Cluster: running a step.
    Running,
    /// Cluster: idle and usable.
    Waiting,
    /// Instance: stop requested.
    Stopping,
    /// Instance: stopped (its volume still costs).
    Stopped,
    /// Instance: reboot requested.
    Rebooting,
    /// Termination requested.
    Terminating,
    /// Gone.
    Terminated,
    /// Cluster: gone, with errors reported by EMR.
    TerminatedWithErrors {
        /// EMR's reason.
        reason: String,
    },
    /// Gave up; whatever was created is cleaned up.
    Failed {
        /// Why.
        reason: String,
    },
}

impl Phase {
    /// Whether nothing more happens to the resource.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Phase::Terminated | Phase::TerminatedWithErrors { .. } | Phase::Failed { .. })
    }

    /// Whether the resource is usable (an instance Ready, a cluster Running or Waiting).
    pub fn is_usable(&self) -> bool {
        matches!(self, Phase::Ready | Phase::Running | Phase::Waiting)
    }

    /// How far along a launch is, for progress bars: 0 when requested, 5 while the stack is
    /// created, 25 while the machine comes up, 30–100 through the bootstrap's own percentage,
    /// 100 when usable; `None` for the phases after (stopping, terminating, …).
    pub fn launch_percent(&self) -> Option<u8> {
        match self {
            Phase::Requested => Some(0),
            Phase::CreatingStack => Some(5),
            Phase::Provisioning | Phase::Starting => Some(25),
            Phase::Bootstrapping { percent, .. } => Some(30 + (u16::from(*percent).min(100) * 7 / 10) as u8),
            p if p.is_usable() => Some(100),
            _ => None,
        }
    }

    /// Every phase's [`name`](Phase::name), in lifecycle order.
    pub const NAMES: &'static [&'static str] = &[
        "requested",
        "creating_stack",
        "provisioning",
        "starting",
        "bootstrapping",
        "ready",
        "running",
        "waiting",
        "stopping",
        "stopped",
        "rebooting",
        "terminating",
        "terminated",
        "terminated_with_errors",
        "failed",
    ];

    /// The phase's name, without its data.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Requested => "requested",
            Phase::CreatingStack => "creating_stack",
            Phase::Provisioning => "provisioning",
            Phase::Starting => "starting",
            Phase::Bootstrapping { .. } => "bootstrapping",
            Phase::Ready => "ready",
            Phase::Running => "running",
            Phase::Waiting => "waiting",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
            Phase::Rebooting => "rebooting",
            Phase::Terminating => "terminating",
            Phase::Terminated => "terminated",
            Phase::TerminatedWithErrors { .. } => "terminated_with_errors",
            Phase::Failed { .. } => "failed",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Bootstrapping { percent, message, stack_creating: false } => {
                write!(f, "bootstrapping {percent}% ({message})")
            }
            Phase::Bootstrapping { percent, message, stack_creating: true } => {
                write!(f, "bootstrapping {percent}% ({message}), stack still creating")
            }
            Phase::TerminatedWithErrors { reason } => write!(f, "terminated with errors ({reason})"),
            Phase::Failed { reason } => write!(f, "failed ({reason})"),
            other => f.write_str(other.name()),
        }
    }
}

/// Something that happened to a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The launch is about to send CreateStack.
    CreateStack,
    /// The stack reached CREATE_COMPLETE.
    StackCreated,
    /// The instance is running; `progress_bar` says whether its bootstrap reports progress.
    InstanceRunning {
        /// Whether to wait for bootstrap progress.
        progress_bar: bool,
    },
    /// The bootstrap reported progress; 100 means done.
    Progress {
        /// 0–100.
        percent: u8,
        /// What it is doing.
        message: String,
    },
    /// The bootstrap deadline passed without done(100); the software config keeps the
    /// machine (its `on_bootstrap_timeout`).
    BootstrapUnconfirmed,
    /// The software config's `ready_when` holds otherwise than by a plain `100`: the stack
    /// completed after the bootstrap's resource signal, or (`first`) a 100 came while the
    /// stack was still creating.
    ReadyWhenMet,
    /// EMR reports BOOTSTRAPPING.
    ClusterBootstrapping,
    /// EMR reports RUNNING.
    ClusterRunning,
    /// EMR reports WAITING.
    ClusterWaiting,
    /// Stop requested.
    Stop,
    /// The instance stopped.
    Stopped,
    /// Start requested.
    Start,
    /// Reboot requested.
    Reboot,
    /// The reboot finished.
    Rebooted,
    /// Termination requested.
    Terminate,
    /// The resource is gone.
    Terminated,
    /// EMR terminated the cluster with errors.
    TerminatedWithErrors {
        /// EMR's reason.
        reason: String,
    },
    /// Something failed for good.
    Fail {
        /// Why.
        reason: String,
    },
    /// A refresh found the instance or cluster gone, ended outside mliy.
    Vanished {
        /// What the refresh saw.
        reason: String,
    },
}

impl Event {
    /// The event's name, without its data.
    pub fn name(&self) -> &'static str {
        match self {
            Event::CreateStack => "create_stack",
            Event::StackCreated => "stack_created",
            Event::InstanceRunning { .. } => "instance_running",
            Event::Progress { .. } => "progress",
            Event::BootstrapUnconfirmed => "bootstrap_unconfirmed",
            Event::ReadyWhenMet => "ready_when_met",
            Event::ClusterBootstrapping => "cluster_bootstrapping",
            Event::ClusterRunning => "cluster_running",
            Event::ClusterWaiting => "cluster_waiting",
            Event::Stop => "stop",
            Event::Stopped => "stopped",
            Event::Start => "start",
            Event::Reboot => "reboot",
            Event::Rebooted => "rebooted",
            Event::Terminate => "terminate",
            Event::Terminated => "terminated",
            Event::TerminatedWithErrors { .. } => "terminated_with_errors",
            Event::Fail { .. } => "fail",
            Event::Vanished { .. } => "vanished",
        }
    }
}

/// An event that the phase does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {kind:?} in phase {from} cannot take the event {event}")]
pub struct IllegalTransition {
    /// The resource's kind.
    pub kind: ResourceKind,
    /// The phase it was in.
    pub from: String,
    /// The event's name.
    pub event: &'static str,
}

/// The next phase of a `kind` resource in phase `from` after `event`.
///
/// # Errors
/// [`IllegalTransition`] when the event is not allowed in that phase (for example `Start`
/// while `Ready`, or anything after a terminal phase).
pub fn transition(kind: ResourceKind, from: &Phase, event: &Event) -> Result<Phase, IllegalTransition> {
    use Event as E;
    use Phase as P;
    use ResourceKind::{Cluster, Instance};
    let next = match (kind, from, event) {
        (_, p, _) if p.is_terminal() => None,
        (_, _, E::Fail { reason }) => Some(P::Failed { reason: reason.clone() }),
        (_, _, E::Vanished { .. }) => Some(P::Terminated),
        (_, P::Terminating, E::Terminated) => Some(P::Terminated),
        (Cluster, P::Terminating, E::TerminatedWithErrors { reason }) => {
            Some(P::TerminatedWithErrors { reason: reason.clone() })
        }
        (_, P::Terminating, _) => None,
        (_, _, E::Terminate) => Some(P::Terminating),
        (_, P::Requested, E::CreateStack) => Some(P::CreatingStack),
        (Instance, P::CreatingStack, E::StackCreated) => Some(P::Provisioning),
        (Cluster, P::CreatingStack, E::StackCreated) => Some(P::Starting),
        (Instance, P::Provisioning, E::InstanceRunning { progress_bar: true }) => {
            Some(P::Bootstrapping { percent: 0, message: "bootstrapping".into(), stack_creating: false })
        }
        (Instance, P::Provisioning, E::InstanceRunning { progress_bar: false }) => Some(P::Ready),
        // Reports while the stack waits for the bootstrap's signal: recorded, never ready yet.
        (
            Instance,
            P::CreatingStack | P::Bootstrapping { stack_creating: true, .. },
            E::Progress { percent, message },
        ) => Some(P::Bootstrapping { percent: *percent, message: message.clone(), stack_creating: true }),
        (Instance, P::Bootstrapping { percent, message, stack_creating: true }, E::StackCreated) => {
            Some(P::Bootstrapping { percent: *percent, message: message.clone(), stack_creating: false })
        }
        (Instance, P::Bootstrapping { .. }, E::Progress { percent, message }) => Some(if *percent >= 100 {
            P::Ready
        } else {
            P::Bootstrapping { percent: *percent, message: message.clone(), stack_creating: false }
        }),
        (Instance, P::Bootstrapping { .. }, E::BootstrapUnconfirmed | E::ReadyWhenMet) => Some(P::Ready),
        (Instance, P::Ready, E::Stop) => Some(P::Stopping),
        // Stopped or started outside mliy, as a refresh finds.
        (Instance, P::Stopping | P::Ready, E::Stopped) => Some(P::Stopped),
        (Instance, P::Stopped, E::InstanceRunning { .. }) => Some(P::Ready),
        (Instance, P::Stopped, E::Start) => Some(P::Starting),
        (Instance, P::Starting, E::InstanceRunning { .. }) => Some(P::Ready),
        (Instance, P::Ready, E::Reboot) => Some(P::Rebooting),
        (Instance, P::Rebooting, E::Rebooted) => Some(P::Ready),
        (Cluster, P::Starting, E::ClusterBootstrapping) => {
            Some(P::Bootstrapping { percent: 0, message: "bootstrap actions".into(), stack_creating: false })
        }
        (Cluster, P::Starting | P::Bootstrapping { .. } | P::Waiting, E::ClusterRunning) => Some(P::Running),
        (Cluster, P::Starting | P::Bootstrapping { .. } | P::Running, E::ClusterWaiting) => Some(P::Waiting),
        _ => None,
    };
    next.ok_or_else(|| IllegalTransition { kind, from: from.name().to_string(), event: event.name() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Event as E;
    use Phase as P;
    use ResourceKind::{Cluster, Instance};

    #[test]
    fn names_lists_every_phase_once_in_order() {
        let every = all_phases();
        assert_eq!(every.iter().map(Phase::name).collect::<Vec<_>>(), Phase::NAMES);
        let percents: Vec<_> = every.iter().map(Phase::launch_percent).collect();
        assert_eq!(percents[..6], [Some(0), Some(5), Some(25), Some(25), Some(37), Some(100)]);
        assert_eq!(percents[8..], [None; 7]);
    }

    fn boot(p: u8) -> P {
        P::Bootstrapping { percent: p, message: "m".into(), stack_creating: false }
    }

    /// Bootstrapping while the stack still waits for the signal.
    fn creating(p: u8) -> P {
        P::Bootstrapping { percent: p, message: "m".into(), stack_creating: true }
    }

    fn creating_done() -> P {
        P::Bootstrapping { percent: 100, message: "done".into(), stack_creating: true }
    }

    /// Every phase, with both kinds of bootstrapping.
    fn test_phases() -> Vec<P> {
        let mut every = all_phases();
        every.insert(5, creating(10));
        every
    }

    fn all_phases() -> Vec<P> {
        vec![
            P::Requested,
            P::CreatingStack,
            P::Provisioning,
            P::Starting,
            boot(10),
            P::Ready,
            P::Running,
            P::Waiting,
            P::Stopping,
            P::Stopped,
            P::Rebooting,
            P::Terminating,
            P::Terminated,
            P::TerminatedWithErrors { reason: "r".into() },
            P::Failed { reason: "r".into() },
        ]
    }

    fn all_events() -> Vec<E> {
        vec![
            E::CreateStack,
            E::StackCreated,
            E::InstanceRunning { progress_bar: true },
            E::InstanceRunning { progress_bar: false },
            E::Progress { percent: 50, message: "m".into() },
            E::Progress { percent: 100, message: "done".into() },
            E::BootstrapUnconfirmed,
            E::ReadyWhenMet,
            E::ClusterBootstrapping,
            E::ClusterRunning,
            E::ClusterWaiting,
            E::Stop,
            E::Stopped,
            E::Start,
            E::Reboot,
            E::Rebooted,
            E::Terminate,
            E::Terminated,
            E::TerminatedWithErrors { reason: "r".into() },
            E::Fail { reason: "boom".into() },
            E::Vanished { reason: "gone".into() },
        ]
    }

    /// The complete table of legal transitions; everything else must be refused.
    fn legal() -> Vec<(ResourceKind, P, E, P)> {
        let mut t = Vec::new();
        // Fail and Terminate apply in every live phase, whatever the kind.
        let live: Vec<P> = test_phases().into_iter().filter(|p| !p.is_terminal() && *p != P::Terminating).collect();
        for kind in [Instance, Cluster] {
            for p in live.iter().chain([&P::Terminating]) {
                t.push((kind, p.clone(), E::Fail { reason: "boom".into() }, P::Failed { reason: "boom".into() }));
                t.push((kind, p.clone(), E::Vanished { reason: "gone".into() }, P::Terminated));
            }
            for p in &live {
                t.push((kind, p.clone(), E::Terminate, P::Terminating));
            }
            t.push((kind, P::Terminating, E::Terminated, P::Terminated));
            t.push((kind, P::Requested, E::CreateStack, P::CreatingStack));
        }
        t.extend([
            (Instance, P::CreatingStack, E::StackCreated, P::Provisioning),
            (
                Instance,
                P::Provisioning,
                E::InstanceRunning { progress_bar: true },
                P::Bootstrapping { percent: 0, message: "bootstrapping".into(), stack_creating: false },
            ),
            (Instance, P::Provisioning, E::InstanceRunning { progress_bar: false }, P::Ready),
            (Instance, boot(10), E::Progress { percent: 50, message: "m".into() }, boot(50)),
            (Instance, boot(10), E::Progress { percent: 100, message: "done".into() }, P::Ready),
            (Instance, P::CreatingStack, E::Progress { percent: 50, message: "m".into() }, creating(50)),
            (Instance, P::CreatingStack, E::Progress { percent: 100, message: "done".into() }, creating_done()),
            (Instance, creating(10), E::Progress { percent: 50, message: "m".into() }, creating(50)),
            (Instance, creating(10), E::Progress { percent: 100, message: "done".into() }, creating_done()),
            (Instance, creating(10), E::StackCreated, boot(10)),
            (Instance, boot(10), E::BootstrapUnconfirmed, P::Ready),
            (Instance, creating(10), E::BootstrapUnconfirmed, P::Ready),
            (Instance, boot(10), E::ReadyWhenMet, P::Ready),
            (Instance, creating(10), E::ReadyWhenMet, P::Ready),
            (Instance, P::Ready, E::Stop, P::Stopping),
            (Instance, P::Stopping, E::Stopped, P::Stopped),
            (Instance, P::Ready, E::Stopped, P::Stopped),
            (Instance, P::Stopped, E::InstanceRunning { progress_bar: true }, P::Ready),
            (Instance, P::Stopped, E::InstanceRunning { progress_bar: false }, P::Ready),
            (Instance, P::Stopped, E::Start, P::Starting),
            (Instance, P::Starting, E::InstanceRunning { progress_bar: true }, P::Ready),
            (Instance, P::Starting, E::InstanceRunning { progress_bar: false }, P::Ready),
            (Instance, P::Ready, E::Reboot, P::Rebooting),
            (Instance, P::Rebooting, E::Rebooted, P::Ready),
            (Cluster, P::CreatingStack, E::StackCreated, P::Starting),
            (
                Cluster,
                P::Starting,
                E::ClusterBootstrapping,
                P::Bootstrapping { percent: 0, message: "bootstrap actions".into(), stack_creating: false },
            ),
            (
                Cluster,
                P::Terminating,
                E::TerminatedWithErrors { reason: "r".into() },
                P::TerminatedWithErrors { reason: "r".into() },
            ),
        ]);
        // A cluster is never stack_creating, but the table takes what the function does.
        for from in [P::Starting, boot(10), creating(10), P::Waiting] {
            t.push((Cluster, from, E::ClusterRunning, P::Running));
        }
        for from in [P::Starting, boot(10), creating(10), P::Running] {
            t.push((Cluster, from, E::ClusterWaiting, P::Waiting));
        }
        t
    }

    #[test]
    fn every_legal_and_illegal_transition() {
        let legal = legal();
        let mut checked = 0;
        for kind in [Instance, Cluster] {
            for from in test_phases() {
                for event in all_events() {
                    let expected =
                        legal.iter().find(|(k, f, e, _)| *k == kind && *f == from && *e == event).map(|(.., to)| to);
                    match (transition(kind, &from, &event), expected) {
                        (Ok(to), Some(want)) => assert_eq!(&to, want, "{kind:?} {from} + {}", event.name()),
                        (Err(e), None) => {
                            assert_eq!((e.from.as_str(), e.event), (from.name(), event.name()));
                        }
                        (got, want) => panic!("{kind:?} {from} + {}: got {got:?}, want {want:?}", event.name()),
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 2 * 16 * 21);
    }

    #[test]
    fn terminal_phases_take_nothing() {
        for p in test_phases().into_iter().filter(Phase::is_terminal) {
            for e in all_events() {
                assert!(transition(Instance, &p, &e).is_err());
                assert!(transition(Cluster, &p, &e).is_err());
            }
        }
    }
}
