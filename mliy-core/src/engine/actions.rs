//! What users do to their resources: start, stop, restart, terminate, archive, extend. An
//! action is a stored transition with a deadline; the resource's driver carries it out.

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
    /// Add hours to the resource's lifetime (`max_lifetime_hours`), within the group
    /// config's `max_lifetime_extension_hours`.
    Extend {
        /// Hours to add.
        hours: u32,
    },
    /// Give a running cluster's core or task group this many nodes (ModifyInstanceGroups).
    Resize {
        /// CORE or TASK.
        role: crate::model::emr::InstanceRole,
        /// The nodes it will have.
        count: u32,
    },
}

impl Action {
    /// The action's name: `start`, `stop`, `restart`, `terminate`, `archive`, `extend`,
    /// `resize`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Terminate => "terminate",
            Action::Archive => "archive",
            Action::Extend { .. } => "extend",
            Action::Resize { .. } => "resize",
        }
    }
}

impl Engine {
    /// Does `action` to a resource for `principal`.
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless the principal owns the resource, manages its owner's
    /// group, or is an admin; for a start past the owner's or group config's limits or budget,
    /// or past the resource's lifetime; for an extension past `max_lifetime_extension_hours`.
    /// [`Error::Validation`] for an action the resource's kind or phase does not allow.
    pub async fn act(&self, principal: &Principal, id: &LaunchId, action: Action) -> Result<Resource> {
        let inner = &self.inner;
        inner.alive()?;
        let actor = Actor::User(principal.username.clone());
        loop {
            let r = self.get_stored(principal, id).await?;
            let outcome = match action {
                Action::Archive if !r.phase.is_terminal() => {
                    return Err(Error::validation("action", "archive", format!("not allowed while {}", r.phase)));
                }
                Action::Archive => inner.note(&r, actor.clone(), "archived", |n| n.archived = true).await,
                Action::Extend { hours } => inner.extend(&r, &principal.username, hours).await,
                Action::Resize { role, count } => inner.resize(principal, &r, role, count).await,
                _ => self.order_for(principal, &r, action).await,
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

    /// Start, stop, restart or terminate, as the principal asked.
    async fn order_for(&self, principal: &Principal, r: &Resource, action: Action) -> Result<Resource> {
        let inner = &self.inner;
        if r.kind == ResourceKind::Cluster && action != Action::Terminate {
            return Err(Error::validation(
                "action",
                action.name(),
                "EMR clusters cannot be stopped, started or rebooted; terminate them",
            ));
        }
        let reason = format!("{} requested by {}", action.name(), principal.username);
        let actor = Actor::User(principal.username.clone());
        if action != Action::Start {
            return inner.order(r, action, actor, reason).await;
        }
        // A start makes a stopped instance count against its limits again.
        inner.check_lifetime_left(r)?;
        let group = inner.planner.catalog().group_config(&r.group_config).ok();
        match group {
            Some(group) => inner.within_quota(group, r, inner.order(r, action, actor, reason)).await,
            None => inner.order(r, action, actor, reason).await,
        }
    }
}

/// The lifecycle event an action stores (start, stop, restart; anything else terminates).
pub(crate) fn event_of(action: Action) -> Event {
    match action {
        Action::Start => Event::Start,
        Action::Stop => Event::Stop,
        Action::Restart => Event::Reboot,
        _ => Event::Terminate,
    }
}

impl Shared {
    /// Stores `action`'s event on `r` with the deadline it has; the caller wakes the driver.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the action when `r`'s phase does not allow it; the
    /// store's.
    pub(crate) async fn order(&self, r: &Resource, action: Action, actor: Actor, reason: String) -> Result<Resource> {
        let event = event_of(action);
        if let Err(illegal) = crate::lifecycle::transition(r.kind, &r.phase, &event) {
            return Err(Error::validation("action", action.name(), illegal.to_string()));
        }
        let timeout =
            if action == Action::Terminate { self.config.terminate_timeout } else { self.config.action_timeout };
        let deadline = self.clock.now().plus(timeout);
        self.transition(r, event, actor, reason, |n| n.deadline = Some(deadline)).await
    }
}
