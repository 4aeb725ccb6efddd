//! `max_running_per_user`, enforced atomically: the count and the insert of a new launch
//! happen under a store lease per (user, group config), so concurrent launches — in one
//! process or across replicas sharing the store — cannot both pass the check.

use super::Shared;
use crate::error::{Error, Result};
use crate::lifecycle::{LifecycleEvent, Resource};
use crate::model::{GroupConfig, Principal};
use crate::store::ResourceFilter;
use std::time::Duration;

/// How long the lease lasts: far more than a count and an insert take.
const LEASE_TTL: Duration = Duration::from_secs(30);
/// How long a launch waits for another launch of the same user to finish its check.
const WAIT: Duration = Duration::from_secs(20);
/// Between tries.
const RETRY: Duration = Duration::from_millis(25);

impl Shared {
    /// Stores `resource` (and its first event) unless the owner already has the group's
    /// `max_running_per_user` unfinished resources.
    ///
    /// # Errors
    /// [`Error::Forbidden`] past the limit, [`Error::Unavailable`] when the lease cannot be had
    /// within 20 seconds, and the store's errors.
    pub(crate) async fn insert_within_quota(
        &self,
        principal: &Principal,
        group: &GroupConfig,
        resource: &Resource,
        event: &LifecycleEvent,
    ) -> Result<()> {
        let Some(max) = group.settings.max_running_per_user else {
            return self.store.insert_resource(resource, Some(event)).await;
        };
        let lease = format!("quota:{}:{}", principal.username, group.name);
        let holder = resource.id.as_str();
        let started = self.clock.now();
        loop {
            let now = self.clock.now();
            if self.store.try_lease(&lease, holder, now.plus(LEASE_TTL), now).await? {
                break;
            }
            if now.since(started) > WAIT {
                return Err(Error::Unavailable(format!("another launch of {} is being checked", principal.username)));
            }
            self.clock.sleep(RETRY).await;
        }
        let result = self.count_then_insert(principal, group, max, resource, event).await;
        let _ = self.store.release_lease(&lease, holder).await;
        result
    }

    async fn count_then_insert(
        &self,
        principal: &Principal,
        group: &GroupConfig,
        max: u32,
        resource: &Resource,
        event: &LifecycleEvent,
    ) -> Result<()> {
        let mine = ResourceFilter { owner: Some(principal.username.clone()), ..ResourceFilter::default() };
        let running = self
            .store
            .list_resources(&mine)
            .await?
            .iter()
            .filter(|r| r.group_config == group.name && !r.phase.is_terminal())
            .count();
        if running >= max as usize {
            return Err(Error::Forbidden(format!(
                "{} has {running} resources under group config {}, its limit is {max}",
                principal.username, group.name
            )));
        }
        self.store.insert_resource(resource, Some(event)).await
    }
}
