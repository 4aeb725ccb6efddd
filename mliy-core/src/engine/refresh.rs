//! Refresh: one pass over the fleet brings the store in line with the cloud, in as few calls
//! as the APIs allow (DescribeInstances by the managed tag in pages of 1,000, ListClusters of
//! live clusters in pages of 50), never one per resource except to confirm a change.
//!
//! What the listing says of each resource is Present, Absent, or Unknown (its listing
//! failed). A resource is declared gone only after being Absent on `absent_passes`
//! consecutive passes and confirmed by a direct look; a failed call never ends anything.
//! Only resources waiting for a user (ready, stopped, waiting clusters) are refreshed: the
//! others have a driver watching them. One pass at a time, a minimum interval between passes,
//! and across replicas sharing a store one refresher at a time (the store lease `refresh`).

use super::{Engine, Shared};
use crate::cloud::{CloudExt, ClusterInfo, ClusterState, InstanceFilter, InstanceInfo, InstanceState};
use crate::error::Result;
use crate::lifecycle::{Event, LifecycleEvent, Phase, Resource, ResourceKind};
use crate::model::{LAUNCH_ID_TAG, LaunchId, MANAGED_TAG, Tag};
use crate::store::{ResourceChange, ResourceFilter};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How refresh behaves.
#[derive(Debug, Clone)]
pub struct RefreshConfig {
    /// Consecutive passes a resource must be absent from the listings before it is looked
    /// at directly and, if gone, ended.
    pub absent_passes: u32,
    /// Passes closer together than this are skipped.
    pub min_interval: Duration,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig { absent_passes: 2, min_interval: Duration::from_secs(60) }
    }
}

/// A machine with MLiy's tag that the store does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    /// An instance or a cluster.
    pub kind: ResourceKind,
    /// The EC2 instance id or EMR cluster id.
    pub id: String,
    /// Its launch id tag, if it has one.
    pub launch_id: Option<String>,
    /// Its tags.
    #[serde(skip)]
    pub tags: Vec<Tag>,
}

impl Unmanaged {
    /// A listed instance.
    pub(super) fn instance(i: &InstanceInfo) -> Unmanaged {
        Unmanaged {
            kind: ResourceKind::Instance,
            id: i.id.clone(),
            launch_id: i.tags.iter().find(|t| t.key == LAUNCH_ID_TAG).map(|t| t.value.clone()),
            tags: i.tags.clone(),
        }
    }
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RefreshReport {
    /// Why the pass did not run, if it did not.
    pub skipped: Option<&'static str>,
    /// Cloud calls made.
    pub cloud_calls: u64,
    /// Resources looked at.
    pub checked: usize,
    /// Resources whose record changed.
    pub changes: usize,
    /// Resources whose listing failed (nothing was concluded about them).
    pub unknown: usize,
    /// Resources absent from the listings this pass (not yet ended).
    pub absent: usize,
    /// Managed machines the store does not know.
    pub unmanaged: Vec<Unmanaged>,
    /// Instances stopped for `idle_stop_minutes`.
    pub idle_stops: usize,
    /// Resources stopped or terminated for `max_lifetime_hours`.
    pub lifetime_ends: usize,
    /// Idle, lifetime and budget warnings recorded.
    pub warnings: usize,
}

/// What refresh remembers between passes.
#[derive(Debug, Default)]
pub(crate) struct RefreshState {
    last_start: Option<crate::clock::Timestamp>,
    absent: HashMap<LaunchId, u32>,
}

/// What the listings said of one resource.
enum Seen<'a> {
    Present(Listed<'a>),
    Absent,
    Unknown,
}

/// A resource as its listing shows it.
enum Listed<'a> {
    Instance(&'a InstanceInfo),
    Cluster(&'a ClusterInfo),
}

/// This pass's listings by id; `None` where the listing failed.
struct Listings {
    instances: Option<HashMap<String, InstanceInfo>>,
    clusters: Option<HashMap<String, ClusterInfo>>,
}

impl Listings {
    fn seen(&self, r: &Resource) -> Seen<'_> {
        fn look<'a, T>(
            listing: &'a Option<HashMap<String, T>>,
            id: Option<&String>,
            as_listed: fn(&'a T) -> Listed<'a>,
        ) -> Seen<'a> {
            match (listing, id) {
                (None, _) | (_, None) => Seen::Unknown,
                (Some(map), Some(id)) => map.get(id).map_or(Seen::Absent, |info| Seen::Present(as_listed(info))),
            }
        }
        match r.kind {
            ResourceKind::Instance => look(&self.instances, r.instance_id.as_ref(), Listed::Instance),
            ResourceKind::Cluster => look(&self.clusters, r.cluster_id.as_ref(), Listed::Cluster),
        }
    }

    /// Listed machines with the managed tag that no record knows (and that are not gone).
    fn unmanaged(&self, records: &[Resource]) -> Vec<Unmanaged> {
        let Some(listed) = &self.instances else { return Vec::new() };
        let known = super::mliy_fleet::Known::new(records);
        listed.values().filter(|i| known.unmanaged_instance(i)).map(Unmanaged::instance).collect()
    }
}

/// Only resources waiting for a user are refreshed: the others have a driver watching them.
fn waiting_for_users(r: &Resource) -> bool {
    !r.phase.is_terminal()
        && !r.cleanup_pending
        && matches!(r.phase, Phase::Ready | Phase::Stopped | Phase::Waiting | Phase::Running)
}

impl Shared {
    async fn list_managed_instances(&self, calls: &AtomicU64) -> Result<HashMap<String, InstanceInfo>> {
        let filter = InstanceFilter { ids: vec![], tag: Some((MANAGED_TAG.0.to_string(), MANAGED_TAG.1.to_string())) };
        let (items, pages) = self.cloud.all_instances(&filter).await?;
        calls.fetch_add(pages, Ordering::Relaxed);
        Ok(items.into_iter().map(|i| (i.id.clone(), i)).collect())
    }

    async fn list_live_clusters(&self, calls: &AtomicU64) -> Result<HashMap<String, ClusterInfo>> {
        use ClusterState as S;
        let live = [S::Starting, S::Bootstrapping, S::Running, S::Waiting, S::Terminating];
        let (items, pages) = self.cloud.all_clusters(&live).await?;
        calls.fetch_add(pages, Ordering::Relaxed);
        Ok(items.into_iter().map(|c| (c.id.clone(), c)).collect())
    }

    /// DNS changes that failed before are tried again, on each named record as it is now;
    /// returns how many names went.
    async fn retry_dns(&self, records: &[Resource]) -> Result<usize> {
        let mut changes = 0;
        for id in records.iter().filter(|r| r.dns_name.is_some()).map(|r| &r.id) {
            let Some(r) = self.store.get_resource(id).await? else { continue };
            if r.dns_name.is_some()
                && let Ok(done) = self.follow_dns(r, false).await
            {
                changes += usize::from(done.dns_name.is_none());
            }
        }
        Ok(changes)
    }

    /// Ends `r` as gone outside mliy: Terminated, bill closed, DNS record deleted, and
    /// whatever its stack still holds cleaned up by the driver.
    fn vanished(&self, r: &Resource, what: String) -> Result<Planned> {
        let reason = format!("{what}: ended outside mliy");
        let event = Event::Vanished { reason: reason.clone() };
        let planned = self.planned(r, Some(event), reason, |n| {
            n.cleanup_pending = n.stack_id.is_some() || n.job_flow.is_some();
            n.deadline = None;
            n.progress_open = false;
        })?;
        Ok(Planned::write(planned, Some(false)))
    }

    /// What the instance listing says to change; `None` when nothing.
    fn refresh_instance(&self, r: &Resource, info: &InstanceInfo) -> Result<Option<Planned>> {
        let outside = |what: &str| format!("instance {} {what} outside mliy", info.id);
        let write = |planned, dns| Some(Planned::write(planned, Some(dns)));
        Ok(match (&r.phase, info.state) {
            (Phase::Ready, InstanceState::Stopping | InstanceState::Stopped) => {
                write(self.planned(r, Some(Event::Stopped), outside("stopped"), |n| n.deadline = None)?, false)
            }
            (Phase::Stopped, InstanceState::Running) => {
                let ip = info.private_ip.clone();
                let event = Event::InstanceRunning { progress_bar: false };
                let planned = self.planned(r, Some(event), outside("started"), |n| {
                    n.private_ip = ip.or(n.private_ip.take());
                })?;
                write(planned, true)
            }
            (_, InstanceState::ShuttingDown | InstanceState::Terminated) => {
                Some(self.vanished(r, format!("instance {} terminated", info.id))?)
            }
            (Phase::Ready, InstanceState::Running) if info.private_ip.is_some() && info.private_ip != r.private_ip => {
                let ip = info.private_ip.clone();
                let why = format!("instance {} moved to {}", info.id, ip.as_deref().unwrap_or("-"));
                write(self.planned(r, None, why, |n| n.private_ip = ip)?, true)
            }
            // A DNS change that failed before is tried again.
            (Phase::Ready, InstanceState::Running) if r.dns_name.is_none() && r.private_ip.is_some() => {
                Some(Planned::Dns)
            }
            _ => None,
        })
    }

    /// Follows EMR between RUNNING (steps under way) and WAITING.
    fn refresh_cluster(&self, r: &Resource, info: &ClusterInfo) -> Result<Option<Planned>> {
        let event = match (&r.phase, info.state) {
            (Phase::Waiting, ClusterState::Running) => Event::ClusterRunning,
            (Phase::Running, ClusterState::Waiting) => Event::ClusterWaiting,
            _ => return Ok(None),
        };
        let why = format!("cluster {} is {:?}", info.id, info.state).to_lowercase();
        Ok(Some(Planned::write(self.planned(r, Some(event), why, |_| {})?, None)))
    }

    /// Confirms with one direct look that an absent resource is gone.
    async fn confirm_gone(&self, r: &Resource, calls: &AtomicU64) -> Result<Option<Planned>> {
        calls.fetch_add(1, Ordering::Relaxed);
        match r.kind {
            ResourceKind::Instance => {
                let Some(id) = &r.instance_id else { return Ok(None) };
                match self.cloud.describe_instance(id).await? {
                    Some(info) => self.refresh_instance(r, &info),
                    None => self.vanished(r, format!("instance {id} no longer exists")).map(Some),
                }
            }
            ResourceKind::Cluster => {
                let Some(id) = &r.cluster_id else { return Ok(None) };
                match self.cloud.describe_cluster(id).await? {
                    Some(info) if !info.state.is_terminated() => Ok(None),
                    Some(info) => {
                        let why = info.state_reason.unwrap_or_else(|| format!("{:?}", info.state));
                        self.vanished(r, format!("cluster {id} terminated ({why})")).map(Some)
                    }
                    None => self.vanished(r, format!("cluster {id} no longer exists")).map(Some),
                }
            }
        }
    }

    /// Stores a pass's changes in batches (one by one for a batch another writer got into
    /// first), then follows each up; returns how many records changed, and how many could
    /// not be written this pass.
    async fn apply(self: &Arc<Self>, plans: Vec<(&Resource, Planned)>) -> Result<(usize, usize)> {
        let (mut changed, mut missed) = (0, 0);
        for batch in plans.chunks(BATCH) {
            let changes: Vec<ResourceChange> = batch
                .iter()
                .filter_map(|(r, p)| match p {
                    Planned::Write { next, event, .. } => Some(ResourceChange {
                        resource: (**next).clone(),
                        expected_version: r.version,
                        event: Some(event.clone()),
                    }),
                    Planned::Dns => None,
                })
                .collect();
            let together = self.store.update_resources(&changes).await;
            for (r, plan) in batch {
                match self.follow_up(r, plan, together.is_ok()).await {
                    Ok(true) => {
                        changed += 1;
                        Shared::ensure_driver(self, &r.id);
                    }
                    Ok(false) => {}
                    // Another writer got there first, or the cloud did not answer: next pass.
                    Err(e) if e.is_retryable() || e.is_conflict() => missed += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((changed, missed))
    }

    /// Writes `plan` unless its batch was `stored`, then settles, logs, broadcasts and
    /// follows DNS; `true` when the record changed.
    async fn follow_up(&self, r: &Resource, plan: &Planned, stored: bool) -> Result<bool> {
        match plan {
            Planned::Write { next, event, dns } => {
                if !stored {
                    self.store.update_resource(next, r.version, Some(event)).await?;
                }
                self.written(r, next, event.clone()).await;
                if let Some(again) = dns {
                    self.follow_dns((**next).clone(), *again).await?;
                }
                Ok(true)
            }
            Planned::Dns => Ok(self.follow_dns(r.clone(), false).await?.dns_name.is_some()),
        }
    }
}

impl Planned {
    fn write((next, event): (Resource, LifecycleEvent), dns: Option<bool>) -> Planned {
        Planned::Write { next: Box::new(next), event, dns }
    }
}

/// How many changes one store transaction takes.
const BATCH: usize = 500;

/// A change a refresh pass found, not yet written.
enum Planned {
    /// A new record with its event; then DNS followed (`Some(again)`) or not.
    Write { next: Box<Resource>, event: LifecycleEvent, dns: Option<bool> },
    /// Only the DNS change that failed before, tried again.
    Dns,
}

impl Engine {
    /// One refresh pass: list, diff, write back what changed (see `engine::refresh`).
    ///
    /// # Errors
    /// The store's; cloud failures only make resources Unknown for this pass.
    pub async fn refresh(&self, config: &RefreshConfig) -> Result<RefreshReport> {
        let inner = &self.inner;
        inner.alive()?;
        let Ok(mut state) = inner.refresh.try_lock() else {
            return Ok(RefreshReport { skipped: Some("a pass is under way"), ..RefreshReport::default() });
        };
        let now = inner.clock.now();
        if state.last_start.is_some_and(|t| now.since(t) < config.min_interval) {
            return Ok(RefreshReport { skipped: Some("the last pass was too recent"), ..RefreshReport::default() });
        }
        let lease = config.min_interval.max(Duration::from_secs(60)) * 2;
        if !inner.store.try_lease("refresh", &inner.config.replica_id, now.plus(lease), now).await? {
            return Ok(RefreshReport { skipped: Some("another replica refreshes"), ..RefreshReport::default() });
        }
        state.last_start = Some(now);
        let result = self.pass(config, &mut state).await;
        let _ = inner.store.release_lease("refresh", &inner.config.replica_id).await;
        result
    }

    async fn pass(&self, config: &RefreshConfig, state: &mut RefreshState) -> Result<RefreshReport> {
        let inner = &self.inner;
        let calls = AtomicU64::new(0);
        let listings = Listings {
            instances: inner.list_managed_instances(&calls).await.ok(),
            clusters: inner.list_live_clusters(&calls).await.ok(),
        };
        let records =
            inner.store.list_resources(&ResourceFilter { include_archived: true, ..Default::default() }).await?;
        let mut report = RefreshReport { unmanaged: listings.unmanaged(&records), ..RefreshReport::default() };
        let mut plans = Vec::new();
        for r in records.iter().filter(|r| waiting_for_users(r)) {
            report.checked += 1;
            let planned = match listings.seen(r) {
                Seen::Unknown => {
                    report.unknown += 1;
                    continue;
                }
                Seen::Present(Listed::Instance(info)) => {
                    state.absent.remove(&r.id);
                    inner.refresh_instance(r, info)
                }
                Seen::Present(Listed::Cluster(info)) => {
                    state.absent.remove(&r.id);
                    inner.refresh_cluster(r, info)
                }
                Seen::Absent => {
                    let count = state.absent.entry(r.id.clone()).or_default();
                    *count += 1;
                    if *count < config.absent_passes {
                        report.absent += 1;
                        continue;
                    }
                    state.absent.remove(&r.id);
                    inner.confirm_gone(r, &calls).await
                }
            };
            match planned {
                Ok(Some(plan)) => plans.push((r, plan)),
                Ok(None) => {}
                // Not a legal change now, or the cloud did not answer: next pass.
                Err(e) if e.is_retryable() || e.is_conflict() => report.unknown += 1,
                Err(e) => return Err(e),
            }
        }
        let (changed, missed) = self.inner.apply(plans).await?;
        (report.changes, report.unknown) = (changed, report.unknown + missed);
        report.changes += inner.retry_dns(&records).await?;
        let swept = self.enforce_limits(&records).await?;
        (report.idle_stops, report.lifetime_ends) = (swept.idle_stops, swept.lifetime_ends);
        report.warnings = swept.warnings + inner.budget_warnings(&records).await?;
        report.cloud_calls = calls.load(Ordering::Relaxed);
        Ok(report)
    }

    /// Refreshes every `every` until the engine shuts down or `stop` is notified.
    pub fn spawn_refresh(
        &self,
        config: RefreshConfig,
        every: Duration,
        stop: std::sync::Arc<tokio::sync::Notify>,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                if engine.is_shut_down() {
                    return;
                }
                match engine.refresh(&config).await {
                    Ok(report) if report.changes > 0 => {
                        tracing::info!(target: "mliy::refresh", changes = report.changes, calls = report.cloud_calls, "refresh pass");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(target: "mliy::refresh", error = %e, "refresh pass failed"),
                }
                tokio::select! {
                    () = engine.inner.clock.sleep(every) => {}
                    () = stop.notified() => return,
                }
            }
        })
    }
}
