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

use super::budget::Newest;
use super::listing::{Listed, ListedInstance, Listings, Seen};
use super::{Engine, Shared};
use crate::cloud::{CloudExt, ClusterInfo, ClusterState, InstanceInfo, InstanceState};
use crate::error::Result;
use crate::lifecycle::{Event, LifecycleEvent, Phase, Resource, ResourceKind};
use crate::model::{LAUNCH_ID_TAG, LaunchId, Tag};
use crate::store::{PageQuery, ResourceChange};
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

/// Only resources waiting for a user are refreshed: the others have a driver watching them.
fn waiting_for_users(r: &Resource) -> bool {
    !r.phase.is_terminal()
        && !r.cleanup_pending
        && matches!(r.phase, Phase::Ready | Phase::Stopped | Phase::Waiting | Phase::Running)
}

impl Shared {
    /// DNS changes that failed before are tried again: a name still held where none is
    /// wanted (stopped, ended) is deleted, on the record as it is now; returns how many went.
    async fn retry_dns(&self, records: &[Resource]) -> Result<usize> {
        let mut changes = 0;
        for id in records.iter().filter(|r| r.dns_name.is_some() && !self.wants_name(r)).map(|r| &r.id) {
            let Some(r) = self.store.get_resource(id).await? else { continue };
            if r.dns_name.is_some()
                && let Ok(done) = self.follow_dns(r, false).await
            {
                changes += usize::from(done.dns_name.is_none());
            }
        }
        Ok(changes)
    }

    /// [`retry_dns`](Self::retry_dns) for ended records still holding a name, page by page.
    async fn retry_dns_of_ended(&self) -> Result<usize> {
        let mut changes = 0;
        for mut q in pages(true) {
            q.dns_named = true;
            loop {
                let page = self.store.list_page(&q).await?;
                changes += self.retry_dns(&page).await?;
                let Some(next) = next_page(&page, q.limit) else { break };
                q.after = Some(next);
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
    fn refresh_instance(&self, r: &Resource, id: &str, info: &ListedInstance) -> Result<Option<Planned>> {
        let outside = |what: &str| format!("instance {id} {what} outside mliy");
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
                Some(self.vanished(r, format!("instance {id} terminated"))?)
            }
            (Phase::Ready, InstanceState::Running) if info.private_ip.is_some() && info.private_ip != r.private_ip => {
                let ip = info.private_ip.clone();
                let why = format!("instance {id} moved to {}", ip.as_deref().unwrap_or("-"));
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
                    Some(info) => self.refresh_instance(r, id, &ListedInstance::of(info).1),
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

/// How many records a pass reads at a time.
const PAGE: usize = 250;

/// The ended phases: a pass reads them only for DNS names still held.
const TERMINAL: [&str; 3] = ["terminated", "terminated_with_errors", "failed"];

/// The first page of each kind in each ended phase (`ended`), or in each other phase.
fn pages(ended: bool) -> impl Iterator<Item = PageQuery> {
    let phases = Phase::NAMES.iter().copied().filter(move |p| TERMINAL.contains(p) == ended);
    [ResourceKind::Instance, ResourceKind::Cluster]
        .into_iter()
        .flat_map(move |kind| phases.clone().map(move |phase| PageQuery::new(kind, phase, PAGE)))
}

/// Where the page after `page` starts; `None` when `page` was the last.
fn next_page(page: &[Resource], limit: usize) -> Option<LaunchId> {
    page.last().filter(|_| page.len() >= limit).map(|r| r.id.clone())
}

/// One pass under way: its settings, what it found so far.
struct Pass<'a> {
    config: &'a RefreshConfig,
    state: &'a mut RefreshState,
    calls: AtomicU64,
    report: RefreshReport,
    newest: Newest,
}

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
        let mut listings = Listings::list(inner, &calls).await;
        let mut pass = Pass { config, state, calls, report: RefreshReport::default(), newest: Newest::default() };
        for mut q in pages(false) {
            loop {
                let page = inner.store.list_page(&q).await?;
                let next = next_page(&page, q.limit);
                let fresh: Vec<Resource> = page.into_iter().filter(|r| listings.fresh(r)).collect();
                self.refresh_page(&fresh, &mut listings, &mut pass).await?;
                let Some(next) = next else { break };
                q.after = Some(next);
            }
        }
        let mut report = pass.report;
        report.unmanaged = inner.unmanaged(&listings, &pass.calls).await?;
        report.changes += inner.retry_dns_of_ended().await?;
        report.warnings += inner.budget_warnings(&pass.newest).await?;
        report.cloud_calls = pass.calls.load(Ordering::Relaxed);
        Ok(report)
    }

    /// Diffs one page of records against the listings, stores what changed, retries DNS and
    /// enforces idle stop and lifetimes on it.
    async fn refresh_page(&self, page: &[Resource], listings: &mut Listings, pass: &mut Pass<'_>) -> Result<()> {
        let inner = &self.inner;
        let mut plans = Vec::new();
        for r in page {
            pass.newest.note(r);
            if !waiting_for_users(r) {
                listings.claim(r);
                continue;
            }
            pass.report.checked += 1;
            match self.look(r, listings, pass).await {
                Ok(Some(plan)) => plans.push((r, plan)),
                Ok(None) => {}
                // Not a legal change now, or the cloud did not answer: next pass.
                Err(e) if e.is_retryable() || e.is_conflict() => pass.report.unknown += 1,
                Err(e) => return Err(e),
            }
        }
        for (r, _) in &plans {
            listings.changed(&r.id);
        }
        let (changed, missed) = inner.apply(plans).await?;
        let report = &mut pass.report;
        (report.changes, report.unknown) = (report.changes + changed, report.unknown + missed);
        report.changes += inner.retry_dns(page).await?;
        let swept = self.enforce_limits(page).await?;
        report.idle_stops += swept.idle_stops;
        report.lifetime_ends += swept.lifetime_ends;
        report.warnings += swept.warnings;
        Ok(())
    }

    /// What the listings say to change of `r`; a resource absent long enough is looked at.
    async fn look(&self, r: &Resource, listings: &Listings, pass: &mut Pass<'_>) -> Result<Option<Planned>> {
        let inner = &self.inner;
        match listings.seen(r) {
            Seen::Unknown => {
                pass.report.unknown += 1;
                Ok(None)
            }
            Seen::Present(listed) => {
                pass.state.absent.remove(&r.id);
                match listed {
                    Listed::Instance(id, info) => inner.refresh_instance(r, id, info),
                    Listed::Cluster(info) => inner.refresh_cluster(r, info),
                }
            }
            Seen::Absent => {
                let count = pass.state.absent.entry(r.id.clone()).or_default();
                *count += 1;
                if *count < pass.config.absent_passes {
                    pass.report.absent += 1;
                    return Ok(None);
                }
                pass.state.absent.remove(&r.id);
                inner.confirm_gone(r, &pass.calls).await
            }
        }
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
