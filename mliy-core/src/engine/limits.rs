//! Idle stop and lifetimes, enforced by the refresh pass. An instance that reports no
//! activity for `idle_stop_minutes` is stopped, with a warning event before; a resource
//! older than `max_lifetime_hours` (plus what `extend` added) is stopped (instances) or
//! terminated (clusters), with warning events 24 hours and 1 hour before. Each step is a
//! compare-and-set on the record, so two replicas never both act.

use super::Action;
use super::{Engine, Shared};
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, Resource, ResourceKind};
use crate::model::GroupSettings;
use std::time::Duration;

/// The lifetime warnings: how many are given once each is due, and how long before the end.
const LIFETIME_WARNINGS: [(u8, Duration, &str); 2] =
    [(1, Duration::from_secs(24 * 3600), "24 hours"), (2, Duration::from_secs(3600), "1 hour")];

/// The idle warning comes this long before the stop (or halfway, for shorter limits).
const IDLE_WARNING: Duration = Duration::from_secs(600);

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Swept {
    pub(crate) idle_stops: usize,
    pub(crate) lifetime_ends: usize,
    pub(crate) warnings: usize,
}

/// What one resource's step did.
enum Step {
    IdleStop,
    LifetimeEnd,
    Warning,
}

/// When `r`'s lifetime ends, if its group config limits it.
fn expires_at(r: &Resource, s: &GroupSettings) -> Option<Timestamp> {
    let hours = s.max_lifetime_hours?.saturating_add(r.watch.extended_hours);
    Some(r.created_at.plus(Duration::from_secs(u64::from(hours) * 3600)))
}

impl Engine {
    /// Applies idle stop and lifetimes to the unfinished `records`; a record another writer
    /// changed meanwhile is left for the next pass.
    pub(super) async fn enforce_limits(&self, records: &[Resource]) -> Result<Swept> {
        let (inner, mut swept) = (&self.inner, Swept::default());
        for r in records.iter().filter(|r| !r.phase.is_terminal()) {
            let Ok(group) = inner.planner.catalog().group_config(&r.group_config) else { continue };
            let step = match inner.lifetime_step(r, &group.settings).await {
                Ok(None) => inner.idle_step(r, &group.settings).await,
                other => other,
            };
            match step {
                Ok(Some(Step::IdleStop)) => swept.idle_stops += 1,
                Ok(Some(Step::LifetimeEnd)) => swept.lifetime_ends += 1,
                Ok(Some(Step::Warning)) => swept.warnings += 1,
                Ok(None) => continue,
                Err(e) if e.is_retryable() || e.is_conflict() => continue,
                Err(e) => return Err(e),
            }
            Shared::ensure_driver(inner, &r.id);
        }
        Ok(swept)
    }
}

impl Shared {
    async fn lifetime_step(&self, r: &Resource, s: &GroupSettings) -> Result<Option<Step>> {
        let Some(end) = expires_at(r, s) else { return Ok(None) };
        let now = self.clock.now();
        let ending = if r.kind == ResourceKind::Cluster { "terminated" } else { "stopped" };
        if now >= end {
            let action = if r.kind == ResourceKind::Cluster { Action::Terminate } else { Action::Stop };
            if crate::lifecycle::transition(r.kind, &r.phase, &super::actions::event_of(action)).is_err() {
                return Ok(None);
            }
            let hours = s.max_lifetime_hours.unwrap_or_default() + r.watch.extended_hours;
            let reason = format!("lifetime of {hours} hours reached (max_lifetime_hours): {ending}");
            return self.order(r, action, Actor::Engine, reason).await.map(|_| Some(Step::LifetimeEnd));
        }
        let due = LIFETIME_WARNINGS
            .iter()
            .filter(|(n, before, _)| r.watch.lifetime_warnings < *n && now.plus(*before) >= end)
            // A warning as long before the end as the whole lifetime would come at launch.
            .rfind(|(_, before, _)| r.created_at.plus(*before) < end);
        let Some((n, _, lead)) = due else { return Ok(None) };
        let reason = format!(
            "lifetime: ends at {} (in under {lead}), when it will be {ending}; extend it to keep it",
            end.utc()
        );
        self.note(r, Actor::Engine, reason, |next| next.watch.lifetime_warnings = *n).await.map(|_| Some(Step::Warning))
    }

    async fn idle_step(&self, r: &Resource, s: &GroupSettings) -> Result<Option<Step>> {
        let Some(minutes) = s.idle_stop_minutes else { return Ok(None) };
        if r.kind != ResourceKind::Instance || !r.phase.is_usable() {
            return Ok(None);
        }
        let limit = Duration::from_secs(u64::from(minutes) * 60);
        let since = r.watch.active_at.unwrap_or(r.updated_at);
        let idle = self.clock.now().since(since);
        if idle >= limit {
            let reason = format!(
                "idle stop: no activity reported for {} minutes (idle_stop_minutes {minutes})",
                idle.as_secs() / 60
            );
            return self.order(r, Action::Stop, Actor::Engine, reason).await.map(|_| Some(Step::IdleStop));
        }
        if r.watch.idle_warned || idle + IDLE_WARNING.min(limit / 2) < limit {
            return Ok(None);
        }
        let reason = format!(
            "idle: no activity reported for {} minutes; it will be stopped at {} unless it reports activity",
            idle.as_secs() / 60,
            since.plus(limit).utc()
        );
        self.note(r, Actor::Engine, reason, |n| n.watch.idle_warned = true).await.map(|_| Some(Step::Warning))
    }

    /// Refuses to start `r` once its lifetime is over.
    pub(crate) fn check_lifetime_left(&self, r: &Resource) -> Result<()> {
        let group = self.planner.catalog().group_config(&r.group_config).ok();
        match group.and_then(|g| expires_at(r, &g.settings)) {
            Some(end) if self.clock.now() >= end => Err(Error::Forbidden(format!(
                "resource {}'s lifetime ended at {} (max_lifetime_hours); extend it before starting it",
                r.id,
                end.utc()
            ))),
            _ => Ok(()),
        }
    }

    /// Adds `hours` to `r`'s lifetime for `by`, within the group config's policy.
    pub(crate) async fn extend(&self, r: &Resource, by: &str, hours: u32) -> Result<Resource> {
        let group = self.planner.catalog().group_config(&r.group_config)?;
        let s = &group.settings;
        if s.max_lifetime_hours.is_none() {
            let rule = format!("group config {} sets no lifetime (max_lifetime_hours) to extend", group.name);
            return Err(Error::validation("action", "extend", rule));
        }
        if r.phase.is_terminal() {
            return Err(Error::validation("action", "extend", format!("not allowed while {}", r.phase)));
        }
        if hours == 0 {
            return Err(Error::validation("hours", "0", "extend by at least 1 hour"));
        }
        let allowed = s.max_lifetime_extension_hours.unwrap_or(0);
        let total = r.watch.extended_hours.saturating_add(hours);
        if total > allowed {
            return Err(Error::Forbidden(format!(
                "resource {} may be extended by at most {allowed} hours in all (max_lifetime_extension_hours of group \
                 config {}); it has {}, this would make {total}",
                r.id, group.name, r.watch.extended_hours
            )));
        }
        let mut next = r.clone();
        next.watch.extended_hours = total;
        let end = expires_at(&next, s).unwrap_or(r.created_at);
        let reason = format!("lifetime extended by {hours} hours to {} by {by}", end.utc());
        self.note(r, Actor::User(by.to_string()), reason, |n| {
            n.watch.extended_hours = total;
            n.watch.lifetime_warnings = 0;
        })
        .await
    }
}
