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

use super::{Engine, Inner};
use crate::cloud::{CloudExt, ClusterInfo, ClusterState, InstanceFilter, InstanceInfo, InstanceState};
use crate::error::Result;
use crate::lifecycle::{Actor, Event, Phase, Resource, ResourceKind};
use crate::model::{LAUNCH_ID_TAG, LaunchId, MANAGED_TAG, Tag};
use crate::store::ResourceFilter;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
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

/// A machine with mliy's managed tag that the store does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    /// The EC2 instance id.
    pub instance_id: String,
    /// Its launch id tag, if it has one.
    pub launch_id: Option<String>,
    /// Its tags.
    #[serde(skip)]
    pub tags: Vec<Tag>,
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
}

/// What refresh remembers between passes.
#[derive(Debug, Default)]
pub(crate) struct RefreshState {
    last_start: Option<crate::clock::Timestamp>,
    absent: HashMap<LaunchId, u32>,
}

/// What the listings said of one resource.
enum Seen<'a, T> {
    Present(&'a T),
    Absent,
    Unknown,
}

fn seen<'a, T>(listing: &'a Option<HashMap<String, T>>, id: Option<&String>) -> Seen<'a, T> {
    match (listing, id) {
        (None, _) | (_, None) => Seen::Unknown,
        (Some(map), Some(id)) => map.get(id).map_or(Seen::Absent, Seen::Present),
    }
}

impl Inner {
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

    /// Ends `r` as gone outside mliy: Terminated, bill closed, DNS record deleted, and
    /// whatever its stack still holds cleaned up by the driver.
    async fn vanished(&self, r: &Resource, what: String) -> Result<()> {
        let reason = format!("{what}: ended outside mliy");
        let done = self
            .transition(r, Event::Vanished { reason: reason.clone() }, Actor::Engine, reason, |n| {
                n.cleanup_pending = n.stack_id.is_some() || n.job_flow.is_some();
                n.deadline = None;
                n.progress_open = false;
            })
            .await?;
        self.unregister_dns(done).await?;
        Ok(())
    }

    /// Applies what the instance listing says; `true` when the record changed.
    async fn refresh_instance(&self, r: &Resource, info: &InstanceInfo) -> Result<bool> {
        let outside = |what: &str| format!("instance {} {what} outside mliy", info.id);
        match (&r.phase, info.state) {
            (Phase::Ready, InstanceState::Stopping | InstanceState::Stopped) => {
                let stopped = self
                    .transition(r, Event::Stopped, Actor::Engine, outside("stopped"), |n| n.deadline = None)
                    .await?;
                self.stopped_dns(stopped).await?;
            }
            (Phase::Stopped, InstanceState::Running) => {
                let ip = info.private_ip.clone();
                let next = self
                    .transition(
                        r,
                        Event::InstanceRunning { progress_bar: false },
                        Actor::Engine,
                        outside("started"),
                        |n| {
                            n.private_ip = ip.or(n.private_ip.take());
                        },
                    )
                    .await?;
                self.register_dns(next).await?;
            }
            (_, InstanceState::ShuttingDown | InstanceState::Terminated) => {
                self.vanished(r, format!("instance {} terminated", info.id)).await?;
            }
            (Phase::Ready, InstanceState::Running) if info.private_ip.is_some() && info.private_ip != r.private_ip => {
                let ip = info.private_ip.clone();
                let why = format!("instance {} moved to {}", info.id, ip.as_deref().unwrap_or("-"));
                let next = self.note(r, Actor::Engine, why, |n| n.private_ip = ip).await?;
                self.register_dns(next).await?;
            }
            // A DNS change that failed before is tried again.
            (Phase::Ready, InstanceState::Running) if r.dns_name.is_none() && r.private_ip.is_some() => {
                let next = self.register_dns(r.clone()).await?;
                return Ok(next.dns_name.is_some());
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Follows EMR between RUNNING (steps under way) and WAITING; `true` when the record
    /// changed.
    async fn refresh_cluster(&self, r: &Resource, info: &ClusterInfo) -> Result<bool> {
        let event = match (&r.phase, info.state) {
            (Phase::Waiting, ClusterState::Running) => Event::ClusterRunning,
            (Phase::Running, ClusterState::Waiting) => Event::ClusterWaiting,
            _ => return Ok(false),
        };
        let why = format!("cluster {} is {:?}", info.id, info.state).to_lowercase();
        self.transition(r, event, Actor::Engine, why, |_| {}).await?;
        Ok(true)
    }

    /// Confirms with one direct look that an absent resource is gone, and ends it.
    async fn confirm_gone(&self, r: &Resource, calls: &AtomicU64) -> Result<bool> {
        calls.fetch_add(1, Ordering::Relaxed);
        match r.kind {
            ResourceKind::Instance => {
                let Some(id) = &r.instance_id else { return Ok(false) };
                let found = self.cloud.describe_instance(id).await?;
                match found {
                    Some(info) => self.refresh_instance(r, &info).await,
                    None => self.vanished(r, format!("instance {id} no longer exists")).await.map(|()| true),
                }
            }
            ResourceKind::Cluster => {
                let Some(id) = &r.cluster_id else { return Ok(false) };
                match self.cloud.describe_cluster(id).await? {
                    Some(info) if !info.state.is_terminated() => Ok(false),
                    Some(info) => {
                        let why = info.state_reason.unwrap_or_else(|| format!("{:?}", info.state));
                        self.vanished(r, format!("cluster {id} terminated ({why})")).await.map(|()| true)
                    }
                    None => self.vanished(r, format!("cluster {id} no longer exists")).await.map(|()| true),
                }
            }
        }
    }
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
        let instances = inner.list_managed_instances(&calls).await.ok();
        let clusters = inner.list_live_clusters(&calls).await.ok();
        let records =
            inner.store.list_resources(&ResourceFilter { include_archived: true, ..Default::default() }).await?;
        let mut report = RefreshReport::default();
        let known: HashSet<&str> = records.iter().filter_map(|r| r.instance_id.as_deref()).collect();
        if let Some(listed) = &instances {
            report.unmanaged = listed
                .values()
                .filter(|i| !known.contains(i.id.as_str()) && i.state != InstanceState::Terminated)
                .map(|i| Unmanaged {
                    instance_id: i.id.clone(),
                    launch_id: i.tags.iter().find(|t| t.key == LAUNCH_ID_TAG).map(|t| t.value.clone()),
                    tags: i.tags.clone(),
                })
                .collect();
        }
        let waiting_for_users = |r: &&Resource| {
            !r.phase.is_terminal()
                && !r.cleanup_pending
                && matches!(r.phase, Phase::Ready | Phase::Stopped | Phase::Waiting | Phase::Running)
        };
        for r in records.iter().filter(waiting_for_users) {
            report.checked += 1;
            let verdict = match r.kind {
                ResourceKind::Instance => match seen(&instances, r.instance_id.as_ref()) {
                    Seen::Present(info) => {
                        state.absent.remove(&r.id);
                        Some(inner.refresh_instance(r, info).await)
                    }
                    Seen::Absent => None,
                    Seen::Unknown => {
                        report.unknown += 1;
                        continue;
                    }
                },
                ResourceKind::Cluster => match seen(&clusters, r.cluster_id.as_ref()) {
                    Seen::Present(info) => {
                        state.absent.remove(&r.id);
                        Some(inner.refresh_cluster(r, info).await)
                    }
                    Seen::Absent => None,
                    Seen::Unknown => {
                        report.unknown += 1;
                        continue;
                    }
                },
            };
            let changed = match verdict {
                Some(result) => result,
                None => {
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
            match changed {
                Ok(true) => {
                    report.changes += 1;
                    super::Inner::ensure_driver(&self.inner, &r.id);
                }
                Ok(false) => {}
                // Another writer got there first, or the cloud did not answer: next pass.
                Err(e) if e.is_retryable() || e.is_conflict() => report.unknown += 1,
                Err(e) => return Err(e),
            }
        }
        // DNS deletions that failed before are tried again (on the record as it is now).
        for id in records.iter().filter(|r| r.dns_name.is_some()).map(|r| &r.id) {
            let Some(r) = inner.store.get_resource(id).await? else { continue };
            let stale = r.phase.is_terminal() || (r.phase == Phase::Stopped && !inner.config.keep_dns_when_stopped);
            if stale
                && r.dns_name.is_some()
                && let Ok(done) = inner.unregister_dns(r).await
            {
                report.changes += usize::from(done.dns_name.is_none());
            }
        }
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

/// What [`Engine::adopt`] needs to take over an unmanaged machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// The EC2 instance, as [`RefreshReport::unmanaged`] names it.
    pub instance_id: String,
    /// Who owns it from now on.
    pub owner: String,
    /// The owner's groups (for group managers' rights).
    pub owner_groups: Vec<String>,
    /// The group config it counts under.
    pub group_config: String,
    /// The software config it runs.
    pub software_config: String,
}

impl Engine {
    /// Brings a machine with mliy's managed tag that the store does not know under
    /// management (a fleet launched by MLiy carries `LaunchedBy=MLIY`): a record in Ready or
    /// Stopped, keeping its launch-id tag when it has a usable one, its stack from the
    /// CloudFormation tags. Admins only.
    ///
    /// # Errors
    /// [`Error::Forbidden`](crate::Error::Forbidden) unless the principal is an admin;
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown instance, group or software
    /// config; [`Error::Validation`](crate::Error::Validation) for an instance without the
    /// managed tag or already terminated; [`Error::AlreadyExists`](crate::Error::AlreadyExists)
    /// when the store knows it.
    pub async fn adopt(&self, principal: &crate::model::Principal, adoption: &Adoption) -> Result<Resource> {
        use crate::error::Error;
        let inner = &self.inner;
        inner.alive()?;
        super::access::authenticated(principal)?;
        if !principal.admin {
            return Err(Error::Forbidden(format!("{} may not adopt machines: admins only", principal.username)));
        }
        let catalog = inner.planner.catalog();
        catalog.group_config(&adoption.group_config)?;
        catalog.software_config(&adoption.software_config)?;
        let id = &adoption.instance_id;
        let info = inner
            .cloud
            .describe_instance(id)
            .await?
            .ok_or_else(|| Error::NotFound { kind: "instance", name: id.clone() })?;
        let tag = |k: &str| info.tags.iter().find(|t| t.key == k).map(|t| t.value.clone());
        if tag(MANAGED_TAG.0).as_deref() != Some(MANAGED_TAG.1) {
            return Err(Error::validation("instance_id", id, "has no LaunchedBy=MLIY tag: not a managed machine"));
        }
        let phase = match info.state {
            InstanceState::Pending | InstanceState::Running => Phase::Ready,
            InstanceState::Stopping | InstanceState::Stopped => Phase::Stopped,
            InstanceState::ShuttingDown | InstanceState::Terminated => {
                return Err(Error::validation("instance_id", id, "is terminated"));
            }
        };
        let all = inner.store.list_resources(&ResourceFilter { include_archived: true, ..Default::default() }).await?;
        if all.iter().any(|r| r.instance_id.as_deref() == Some(id.as_str())) {
            return Err(Error::AlreadyExists(format!("instance {id} is already managed")));
        }
        let launch_id = tag(LAUNCH_ID_TAG)
            .and_then(|t| LaunchId::parse(&t).ok())
            .filter(|l| all.iter().all(|r| r.id != *l))
            .unwrap_or_else(LaunchId::new_random);
        let now = inner.clock.now();
        let stack = crate::model::StackSpec {
            name: tag("aws:cloudformation:stack-name").unwrap_or_default(),
            template_body: std::sync::Arc::from(""),
            parameters: Vec::new(),
            tags: info.tags.clone(),
            client_request_token: launch_id.to_string(),
        };
        let mut r = Resource::requested(launch_id, ResourceKind::Instance, stack, now);
        r.owner = adoption.owner.clone();
        r.owner_groups = adoption.owner_groups.clone();
        r.group_config = adoption.group_config.clone();
        r.software_config = adoption.software_config.clone();
        r.instance_type = info.instance_type.clone();
        r.stack_id = tag("aws:cloudformation:stack-id");
        r.instance_id = Some(info.id.clone());
        r.private_ip = info.private_ip.clone();
        r.phase = phase.clone();
        let event = crate::lifecycle::LifecycleEvent {
            resource: r.id.clone(),
            seq: 1,
            at: now,
            actor: Actor::User(principal.username.clone()),
            from: Phase::Requested,
            to: phase,
            reason: format!("instance {id} adopted by {} for {}", principal.username, adoption.owner),
        };
        inner.store.insert_resource(&r, Some(&event)).await?;
        inner.publish(&r, event);
        let r = inner.register_dns(r).await?;
        inner.settle_bill(&r).await?;
        Ok(r)
    }
}
