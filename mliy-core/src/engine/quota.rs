//! `max_running_per_user` and `max_hourly_spend`, enforced atomically: the count and the
//! insert of a new launch (or the start of a stopped instance) happen under a store lease per
//! (user, group config), so concurrent launches and starts — in one process or across
//! replicas sharing the store — cannot both pass the check. A stopped instance frees its run
//! quota but keeps its volumes' cost.

use super::Shared;
use crate::error::{Error, Result};
use crate::lifecycle::{LifecycleEvent, Phase, Resource};
use crate::model::{BillState, GroupConfig};
use crate::pricing::Decimal;
use crate::store::ResourceFilter;
use std::time::Duration;

/// How long the lease lasts: far more than a count and an insert take.
const LEASE_TTL: Duration = Duration::from_secs(30);
/// How long a launch waits for another launch of the same user to finish its check.
const WAIT: Duration = Duration::from_secs(20);
/// Between tries.
const RETRY: Duration = Duration::from_millis(25);

impl Shared {
    /// Stores `resource` (and its first event) unless its owner would pass the group's
    /// `max_running_per_user` or `max_hourly_spend`.
    ///
    /// # Errors
    /// As [`Shared::within_quota`].
    pub(crate) async fn insert_within_quota(
        &self,
        group: &GroupConfig,
        resource: &Resource,
        event: &LifecycleEvent,
    ) -> Result<()> {
        self.within_quota(group, resource, self.store.insert_resource(resource, Some(event))).await
    }

    /// Runs `then` (which makes `r` run: its insert, or its start) if `r`'s owner stays within
    /// the group config's limits with `r` running, holding the quota lease meanwhile.
    ///
    /// # Errors
    /// [`Error::Forbidden`] past a limit, naming it, the current figure and what `r` would
    /// add; [`Error::Unavailable`] when the lease cannot be had within 20 seconds; `then`'s and
    /// the store's errors.
    pub(crate) async fn within_quota<T>(
        &self,
        group: &GroupConfig,
        r: &Resource,
        then: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let limits = &group.settings;
        if limits.max_running_per_user.is_none() && limits.max_hourly_spend.is_none() {
            return then.await;
        }
        let lease = format!("quota:{}:{}", r.owner, group.name);
        let holder = r.id.as_str();
        self.wait_for_lease(&lease, holder, || format!("another launch of {} is being checked", r.owner)).await?;
        let result = match self.check_limits(group, r).await {
            Ok(()) => then.await,
            Err(e) => Err(e),
        };
        let _ = self.store.release_lease(&lease, holder).await;
        result
    }

    /// Takes the store lease `name` for `holder`, waiting up to 20 seconds for another holder
    /// to let it go.
    ///
    /// # Errors
    /// [`Error::Unavailable`] with `busy`'s words when it is not had in time; the store's.
    pub(crate) async fn wait_for_lease(&self, name: &str, holder: &str, busy: impl Fn() -> String) -> Result<()> {
        let started = self.clock.now();
        loop {
            let now = self.clock.now();
            if self.store.try_lease(name, holder, now.plus(LEASE_TTL), now).await? {
                return Ok(());
            }
            if now.since(started) > WAIT {
                return Err(Error::Unavailable(busy()));
            }
            self.clock.sleep(RETRY).await;
        }
    }

    /// Whether `r`'s owner stays within the limits with `r` running besides their other
    /// unfinished resources under the group config.
    async fn check_limits(&self, group: &GroupConfig, r: &Resource) -> Result<()> {
        let mine = ResourceFilter { owner: Some(r.owner.clone()), ..ResourceFilter::default() };
        let all = self.store.list_resources(&mine).await?;
        let live: Vec<&Resource> =
            all.iter().filter(|o| o.group_config == group.name && !o.phase.is_terminal() && o.id != r.id).collect();
        let who = (r.owner.as_str(), group.name.as_str());
        if let Some(max) = group.settings.max_running_per_user {
            let running = live.iter().filter(|o| !matches!(o.phase, Phase::Stopping | Phase::Stopped)).count();
            if running >= max as usize {
                return Err(Error::Forbidden(format!(
                    "{} has {running} resources running under group config {}, its limit is {max} (max_running_per_user)",
                    who.0, who.1
                )));
            }
        }
        match group.settings.max_hourly_spend {
            Some(max) => self.within_spend(who, max, &live, r),
            None => Ok(()),
        }
    }

    /// Whether the launch keeps the user's hourly spend under the group config within `max`.
    fn within_spend(
        &self,
        (user, group): (&str, &str),
        max: Decimal,
        live: &[&Resource],
        new: &Resource,
    ) -> Result<()> {
        let Some(pricing) = &self.pricing else {
            return Err(Error::validation("max_hourly_spend", max.to_string(), "needs the engine's pricing"));
        };
        let hourly = |r: &Resource, state: Option<BillState>| {
            super::billing::rate(pricing, r, state.unwrap_or(BillState::Running)).0
        };
        let now: Decimal = live.iter().filter_map(|r| hourly(r, super::billing::bill_state(r))).sum();
        // What `new` adds running (it is a launch, or a stopped instance starting).
        let Some(adds) = hourly(new, Some(BillState::Running)) else {
            return Err(Error::Forbidden(format!(
                "{} cannot be priced, and group config {group} limits hourly spend (max_hourly_spend {max})",
                new.instance_type
            )));
        };
        if now + adds > max {
            return Err(Error::Forbidden(format!(
                "{user}'s hourly spend under group config {group} would be {} ({} now + {} for this one), its limit is {max} (max_hourly_spend)",
                (now + adds).round_dp(4).normalize(),
                now.round_dp(4).normalize(),
                adds.round_dp(4).normalize()
            )));
        }
        Ok(())
    }
}
