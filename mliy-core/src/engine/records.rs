//! Persisting changes: every transition is stored (compare-and-set, with its event) before
//! the engine acts on the cloud.

use super::Shared;
use super::billing::bill_state;
use crate::error::{Error, Result};
use crate::lifecycle::{self, Actor, Event, LifecycleEvent, Phase, Resource};

impl Shared {
    /// Applies `event` to `r`, edits the result, and stores both; returns the stored record.
    ///
    /// # Errors
    /// [`Error::InvalidTransition`] when the event is not legal in `r`'s phase,
    /// [`Error::Stale`] when another writer changed the record first.
    pub(crate) async fn transition(
        &self,
        r: &Resource,
        event: Event,
        actor: Actor,
        reason: impl Into<String>,
        edit: impl FnOnce(&mut Resource),
    ) -> Result<Resource> {
        self.write(r, Some(phase_after(r, &event)?), actor, reason.into(), edit).await
    }

    /// Stores a change of fields, without an event.
    pub(crate) async fn update(&self, r: &Resource, edit: impl FnOnce(&mut Resource)) -> Result<Resource> {
        let mut next = r.clone();
        edit(&mut next);
        next.version = r.version + 1;
        next.updated_at = self.clock.now();
        self.store.update_resource(&next, r.version, None).await?;
        Ok(next)
    }

    /// Records something that happened without a phase change (an event from a phase to
    /// itself), e.g. a DNS failure or archiving.
    pub(crate) async fn note(
        &self,
        r: &Resource,
        actor: Actor,
        reason: impl Into<String>,
        edit: impl FnOnce(&mut Resource),
    ) -> Result<Resource> {
        self.write(r, None, actor, reason.into(), edit).await
    }

    /// Notes `reason` on the latest stored record of `id`, reading it again when another
    /// writer got there first.
    pub(crate) async fn note_latest(&self, id: &crate::model::LaunchId, actor: Actor, reason: &str) -> Result<()> {
        loop {
            let Some(r) = self.store.get_resource(id).await? else { return Ok(()) };
            match self.note(&r, actor.clone(), reason, |_| {}).await {
                Err(Error::Stale(_)) => continue,
                other => return other.map(drop),
            }
        }
    }

    /// `r` after `event` and `edit`, with the event to store: a transition not yet written
    /// (refresh writes a pass's changes in batches, then calls [`Shared::written`] for each).
    ///
    /// # Errors
    /// [`Error::InvalidTransition`] when the event is not legal in `r`'s phase.
    pub(crate) fn planned(
        &self,
        r: &Resource,
        event: Option<Event>,
        reason: String,
        edit: impl FnOnce(&mut Resource),
    ) -> Result<(Resource, LifecycleEvent)> {
        let to = event.map(|e| phase_after(r, &e)).transpose()?;
        Ok(self.next_of(r, to, (Actor::Engine, reason), edit))
    }

    async fn write(
        &self,
        r: &Resource,
        to: Option<Phase>,
        actor: Actor,
        reason: String,
        edit: impl FnOnce(&mut Resource),
    ) -> Result<Resource> {
        let (next, event) = self.next_of(r, to, (actor, reason), edit);
        self.store.update_resource(&next, r.version, Some(&event)).await?;
        self.written(r, &next, event).await;
        Ok(next)
    }

    /// What follows a stored change of `r` to `next`: the bill settled when the state it
    /// bills changed, the log line, the broadcast.
    pub(crate) async fn written(&self, r: &Resource, next: &Resource, event: LifecycleEvent) {
        if bill_state(r) != bill_state(next) {
            // The change is recorded; should this fail, the driver settles the bill later.
            let _ = self.settle_bill(next).await;
        }
        tracing::info!(target: "mliy::launch", id = %r.id, from = %event.from, to = %event.to, reason = %event.reason);
        self.publish(next, event);
    }

    /// `r` moved to `to` (when given) and edited, with its event by `actor` for `reason`.
    fn next_of(
        &self,
        r: &Resource,
        to: Option<Phase>,
        (actor, reason): (Actor, String),
        edit: impl FnOnce(&mut Resource),
    ) -> (Resource, LifecycleEvent) {
        let now = self.clock.now();
        let mut next = r.clone();
        if let Some(to) = to {
            next.phase = to;
        }
        edit(&mut next);
        if next.phase.is_usable() && !r.phase.is_usable() {
            // Idle time counts from here until the machine reports activity.
            next.watch.active_at = Some(now);
            next.watch.idle_warned = false;
        }
        next.version = r.version + 1;
        next.updated_at = now;
        let event = LifecycleEvent {
            resource: r.id.clone(),
            seq: next.version,
            at: now,
            actor,
            from: r.phase.clone(),
            to: next.phase.clone(),
            reason,
        };
        (next, event)
    }

    /// Fails `r` for `reason`: Failed, with cleanup of whatever may have been created.
    pub(crate) async fn fail(&self, r: &Resource, reason: impl Into<String>) -> Result<Resource> {
        let reason = reason.into();
        let maybe_created = r.phase != Phase::Requested;
        self.transition(r, Event::Fail { reason: reason.clone() }, Actor::Engine, reason, |n| {
            n.cleanup_pending = maybe_created;
            n.deadline = None;
            n.progress_open = false;
        })
        .await
    }
}

/// The phase `event` takes `r` to.
fn phase_after(r: &Resource, event: &Event) -> Result<Phase> {
    lifecycle::transition(r.kind, &r.phase, event).map_err(|e| Error::InvalidTransition(e.to_string()))
}
