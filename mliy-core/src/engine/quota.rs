//! Quotas per user and per group config (`max_running_per_user`, `max_running_per_group`,
//! `max_hourly_spend`, `max_group_hourly_spend`) and a hard `monthly_budget`, enforced
//! atomically: the count and the insert of a new launch (or the start of a stopped instance)
//! happen under a store lease per (user, group config), or per group config when a
//! group-wide limit is set, so concurrent launches and starts — in one process or across
//! replicas sharing the store — cannot both pass the check. A stopped instance frees its run
//! quota but keeps its volumes' cost.

use super::Shared;
use crate::error::{Error, Result};
use crate::lifecycle::{LifecycleEvent, Phase, Resource};
use crate::model::{BillState, BudgetEnforcement, GroupConfig};
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
        let s = &group.settings;
        let per_user = s.max_running_per_user.is_some() || s.max_hourly_spend.is_some();
        let per_group = s.max_running_per_group.is_some() || s.max_group_hourly_spend.is_some();
        let budget = s.monthly_budget.is_some() && s.budget_enforcement == BudgetEnforcement::Hard;
        if !per_user && !per_group && !budget {
            return then.await;
        }
        // Group-wide limits count everyone's launches, so everyone's wait for one lease.
        let lease =
            if per_group { format!("quota:{}", group.name) } else { format!("quota:{}:{}", r.owner, group.name) };
        let holder = r.id.as_str();
        self.wait_for_lease(&lease, holder, || format!("another launch under {} is being checked", group.name)).await?;
        let result = match self.check_limits(group, r, per_group).await {
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

    /// Whether `r`'s owner and group config stay within the limits with `r` running
    /// besides their other unfinished resources, and the month's budget is not spent.
    async fn check_limits(&self, group: &GroupConfig, r: &Resource, per_group: bool) -> Result<()> {
        let filter = if per_group {
            ResourceFilter { needs_driving: true, include_archived: true, ..ResourceFilter::default() }
        } else {
            ResourceFilter { owner: Some(r.owner.clone()), ..ResourceFilter::default() }
        };
        let listed = self.store.list_resources(&filter).await?;
        let all: Vec<&Resource> =
            listed.iter().filter(|o| o.group_config == group.name && !o.phase.is_terminal() && o.id != r.id).collect();
        let mine: Vec<&Resource> = all.iter().copied().filter(|o| o.owner == r.owner).collect();
        let s = &group.settings;
        let user = format!("{} under group config {}", r.owner, group.name);
        let everyone = format!("group config {} (all users)", group.name);
        within_count(&user, "max_running_per_user", s.max_running_per_user, &mine)?;
        within_count(&everyone, "max_running_per_group", s.max_running_per_group, &all)?;
        if let Some(max) = s.max_hourly_spend {
            self.within_spend((&user, "max_hourly_spend"), max, &mine, r)?;
        }
        if let Some(max) = s.max_group_hourly_spend {
            self.within_spend((&everyone, "max_group_hourly_spend"), max, &all, r)?;
        }
        self.within_budget(group, r).await
    }

    /// Whether the launch keeps the hourly spend of `live` within `max`.
    fn within_spend(
        &self,
        (who, setting): (&str, &str),
        max: Decimal,
        live: &[&Resource],
        new: &Resource,
    ) -> Result<()> {
        let Some(pricing) = &self.pricing else {
            return Err(Error::validation(setting, max.to_string(), "needs the engine's pricing"));
        };
        let hourly = |r: &Resource, state: Option<BillState>| {
            super::billing::rate(pricing, r, state.unwrap_or(BillState::Running), &Default::default()).0
        };
        let now: Decimal = live.iter().filter_map(|r| hourly(r, super::billing::bill_state(r))).sum();
        // What `new` adds running (it is a launch, or a stopped instance starting).
        let Some(adds) = hourly(new, Some(BillState::Running)) else {
            return Err(Error::Forbidden(format!(
                "{} cannot be priced, and {who} is limited in hourly spend ({setting} {max})",
                new.instance_type
            )));
        };
        if now + adds > max {
            let show = |d: Decimal| d.round_dp(4).normalize();
            return Err(Error::Forbidden(format!(
                "the hourly spend of {who} would be {} ({} now + {} for this one), its limit is {max} ({setting})",
                show(now + adds),
                show(now),
                show(adds)
            )));
        }
        Ok(())
    }
}

/// Whether one more running resource keeps `live` within `max`.
fn within_count(who: &str, setting: &str, max: Option<u32>, live: &[&Resource]) -> Result<()> {
    let Some(max) = max else { return Ok(()) };
    let running = live.iter().filter(|o| !matches!(o.phase, Phase::Stopping | Phase::Stopped)).count();
    if running >= max as usize {
        return Err(Error::Forbidden(format!(
            "{who} has {running} resources running, its limit is {max} ({setting}); this launch would make {}",
            running + 1
        )));
    }
    Ok(())
}
