//! What users do to their resources: start, stop, restart, terminate, archive. An action is
//! a stored transition with a deadline; the resource's driver carries it out.

use super::{Engine, Shared};
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, Event, Resource, ResourceKind};
use crate::model::{LaunchId, Principal};

/// What a user can do to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Start a stopped instance.
    Start,
    /// Stop a ready instance.
    Stop,
    /// Reboot a ready instance.
    Restart,
    /// Terminate: delete its stack.
    Terminate,
    /// Hide a finished resource from default listings.
    Archive,
}

impl Action {
    /// The action's name: `start`, `stop`, `restart`, `terminate`, `archive`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Terminate => "terminate",
            Action::Archive => "archive",
        }
    }
}

impl Engine {
    /// Does `action` to a resource for `principal`.
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless the principal owns the resource, manages its owner's
    /// group, or is an admin, and for a start past the owner's limits
    /// (`max_running_per_user`, `max_hourly_spend`); [`Error::Validation`] for an action the
    /// resource's kind or phase does not allow.
    pub async fn act(&self, principal: &Principal, id: &LaunchId, action: Action) -> Result<Resource> {
        let inner = &self.inner;
        inner.alive()?;
        let actor = Actor::User(principal.username.clone());
        loop {
            let r = self.get_stored(principal, id).await?;
            let event = match action {
                Action::Archive if !r.phase.is_terminal() => {
                    return Err(Error::validation("action", "archive", format!("not allowed while {}", r.phase)));
                }
                Action::Archive => {
                    return Ok(inner.note(&r, actor, "archived", |n| n.archived = true).await?.redacted());
                }
                Action::Start | Action::Stop | Action::Restart if r.kind == ResourceKind::Cluster => {
                    return Err(Error::validation(
                        "action",
                        action.name(),
                        "EMR clusters cannot be stopped, started or rebooted; terminate them",
                    ));
                }
                Action::Start => Event::Start,
                Action::Stop => Event::Stop,
                Action::Restart => Event::Reboot,
                Action::Terminate => Event::Terminate,
            };
            if let Err(illegal) = crate::lifecycle::transition(r.kind, &r.phase, &event) {
                return Err(Error::validation("action", action.name(), illegal.to_string()));
            }
            let timeout =
                if action == Action::Terminate { inner.config.terminate_timeout } else { inner.config.action_timeout };
            let deadline = inner.clock.now().plus(timeout);
            let reason = format!("{} requested by {}", action.name(), principal.username);
            let transition = inner.transition(&r, event, actor.clone(), reason, |n| n.deadline = Some(deadline));
            // A start makes a stopped instance count against its owner's limits again.
            let group = inner.planner.catalog().group_config(&r.group_config).ok().filter(|_| action == Action::Start);
            let outcome = match group {
                Some(group) => inner.within_quota(group, &r, transition).await,
                None => transition.await,
            };
            match outcome {
                Ok(next) => {
                    Shared::ensure_driver(&self.inner, id);
                    return Ok(next.redacted());
                }
                Err(Error::Stale(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}
