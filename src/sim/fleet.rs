//! `mliy sim --refresh-only`: a standing fleet (instances ready, clusters waiting) put
//! straight into the simulated cloud and the store (in memory, or a real database through
//! [`Backing::External`], stored in batches), a share of it changed outside mliy, then one
//! refresh pass, measured.

use super::replica::{Life, ReplicaStore};
use super::scenario::{Backing, keep_time};
use mliy_core::clock::{Clock, Timestamp, VirtualClock};
use mliy_core::cloud::{Cloud, InstanceFilter};
use mliy_core::engine::{Engine, RefreshConfig, RefreshReport};
use mliy_core::error::{Error, Result};
use mliy_core::lifecycle::{Phase, Resource, ResourceKind};
use mliy_core::model::{Catalog, ClusterSpec, LAUNCH_ID_TAG, LaunchId, MANAGED_TAG, Principal, StackSpec, Tag};
use mliy_core::plan::{LaunchRequest, Planner};
use mliy_core::sim::{SimCloud, SimConfig};
use mliy_core::store::{MemoryStore, StateStore};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// The fleet to refresh.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Running instances.
    pub instances: usize,
    /// Waiting clusters.
    pub clusters: usize,
    /// Share of both changed outside mliy before the pass (stopped, terminated).
    pub changed: f64,
    /// Seed of the simulated cloud.
    pub seed: u64,
}

/// One pass's figures.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshFigures {
    /// Cloud calls the pass made.
    pub cloud_calls: u64,
    /// Real time the pass took.
    pub wall_ms: u128,
    /// Records it changed.
    pub changes: usize,
}

/// What `--refresh-only` reports.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// Instances in the fleet.
    pub instances: usize,
    /// Clusters in the fleet.
    pub clusters: usize,
    /// Resources changed outside mliy.
    pub changed_outside: usize,
    /// The pass.
    pub refresh: RefreshFigures,
    /// ⌈instances / 1,000⌉ + ⌈clusters / 50⌉ + changed + 10: the most calls a pass may make.
    pub call_bound: u64,
    /// Resource writes of the pass.
    pub store_writes: u64,
    /// The process's memory (Linux only): before the fleet, at its peak, and the difference
    /// per resource.
    pub memory: Option<MemoryFigures>,
}

/// Resident memory, from `/proc/self/status`.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryFigures {
    /// Before the fleet was built (VmRSS), in KB.
    pub base_kb: u64,
    /// The peak so far (VmHWM), in KB.
    pub peak_kb: u64,
    /// (peak − base) / resources, in bytes.
    pub bytes_per_resource: u64,
}

/// One of the process's `/proc/self/status` figures (`"VmRSS:"`, `"VmHWM:"`), in KB; `None`
/// off Linux.
pub fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A standing fleet on a simulated cloud, ready to be refreshed.
pub struct Fleet {
    /// The engine over it.
    pub engine: Engine,
    /// The cloud.
    pub cloud: Arc<SimCloud>,
    /// The store.
    pub store: Arc<dyn StateStore>,
    /// Resources changed outside mliy.
    pub changed_outside: usize,
    writes: Arc<AtomicU64>,
    /// Holds tokio's paused clock while a real database answers (see `keep_time`).
    keeper: Option<tokio::task::JoinHandle<()>>,
}

impl Fleet {
    /// Builds the fleet in memory (call inside a runtime with paused time).
    ///
    /// # Errors
    /// As [`Fleet::build_on`].
    pub async fn build(catalog: Catalog, config: &FleetConfig) -> Result<Fleet> {
        Self::build_on(catalog, config, Backing::Memory).await
    }

    /// Store writes since the fleet's store was opened.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Builds the fleet on `backing`'s store (its journal is not used).
    ///
    /// # Errors
    /// [`Error::Validation`] when the catalog has no instance config; the planner's and the
    /// store's.
    pub async fn build_on(catalog: Catalog, config: &FleetConfig, backing: Backing) -> Result<Fleet> {
        let clock = Arc::new(VirtualClock::starting_at(Timestamp(1_700_000_000_000)));
        let sim = SimConfig { seed: config.seed, consistency_delay: Duration::ZERO, ..SimConfig::default() };
        let cloud = Arc::new(SimCloud::new(clock.clone(), sim));
        let (writes, in_flight) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicUsize::new(0)));
        let (inner, keeper): (Arc<dyn StateStore>, _) = match backing {
            Backing::Memory => (Arc::new(MemoryStore::new()), None),
            Backing::External { open, .. } => {
                in_flight.fetch_add(1, Ordering::SeqCst);
                let keeper = keep_time(in_flight.clone());
                let opened = open().await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                (opened?, Some(keeper))
            }
        };
        let life = Life::new(None, writes.clone(), in_flight);
        let store: Arc<dyn StateStore> = Arc::new(ReplicaStore { inner, life });
        let (gc, sc, ty) = catalog
            .group_configs
            .iter()
            .find_map(|g| {
                catalog
                    .software_configs
                    .iter()
                    .find(|s| !s.emr && s.permitted_group_configs.contains(&g.name))
                    .and_then(|s| s.compatible_instance_types.first().map(|t| (g.clone(), s.name.clone(), t.clone())))
            })
            .ok_or_else(|| Error::validation("catalog", "software_configs", "needs an instance software config"))?;
        let owner = Principal::new("fleet-owner", [gc.group.clone()]);
        let planner = Planner::new(catalog.clone())?;
        let template = planner.plan(&owner, &LaunchRequest::instance(&gc.name, &sc, &ty))?;
        let plan =
            FleetPlan { base: StackSpec::from(&template), owner, group_config: gc.name, sc, ty, now: clock.now() };
        // The cloud first, then the records a batch at a time, each looked up in the cloud
        // as the engine would have: the fleet is never held in memory twice.
        let launch = |kind: &str, i: usize| LaunchId::parse(&format!("f{}-{kind}{i:06}", config.seed));
        for i in 0..config.instances {
            cloud.create_stack(&plan.stack(&launch("i", i)?)).await?;
        }
        let mut cluster_ids = Vec::with_capacity(config.clusters);
        for i in 0..config.clusters {
            cluster_ids.push(cloud.run_job_flow(&FleetPlan::cluster(&launch("c", i)?)).await?);
        }
        // Let everything come up, then record it.
        clock.sleep(Duration::from_secs(3600)).await;
        // A share changed outside mliy: half the instances stopped, half terminated; clusters
        // terminated.
        let every = if config.changed > 0.0 { (1.0 / config.changed).round().max(1.0) as usize } else { usize::MAX };
        let changed = |n: usize| n % every == every / 2;
        let mut outside = Vec::new();
        let all = config.instances + config.clusters;
        for start in (0..all).step_by(BATCH) {
            let mut records = Vec::with_capacity(BATCH);
            for n in start..(start + BATCH).min(all) {
                let r = match n.checked_sub(config.instances) {
                    None => plan.instance_record(&cloud, launch("i", n)?).await?,
                    Some(c) => plan.cluster_record(launch("c", c)?, &cluster_ids[c]),
                };
                if changed(n) {
                    outside.push((n, r.clone()));
                }
                records.push(r);
            }
            plan.address(&cloud, &mut records).await?;
            store.insert_resources(&records).await?;
        }
        let changed_outside = outside.len();
        for (n, r) in outside {
            match (r.kind, n / every % 2) {
                (ResourceKind::Instance, 0) => cloud.stop_instances(&[r.instance_id.unwrap_or_default()]).await?,
                (ResourceKind::Instance, _) => cloud.delete_stack(&r.stack_id.unwrap_or_default()).await?,
                (ResourceKind::Cluster, _) => cloud.terminate_clusters(&[r.cluster_id.unwrap_or_default()]).await?,
            }
        }
        clock.sleep(Duration::from_secs(3600)).await;
        let engine =
            Engine::builder().catalog(catalog).cloud(cloud.clone()).store(store.clone()).clock(clock).build()?;
        Ok(Fleet { engine, cloud, store, changed_outside, writes, keeper })
    }

    /// One pass that ends what is gone at once (absent once, then confirmed).
    ///
    /// # Errors
    /// The engine's.
    pub async fn refresh_once(&self) -> Result<RefreshReport> {
        let config = RefreshConfig { absent_passes: 1, min_interval: Duration::ZERO };
        self.engine.refresh(&config).await
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(keeper) = &self.keeper {
            keeper.abort();
        }
    }
}

/// How many records the fleet stores at a time.
const BATCH: usize = 250;

/// What every launch of the fleet shares.
struct FleetPlan {
    base: StackSpec,
    owner: Principal,
    group_config: String,
    sc: String,
    ty: String,
    now: Timestamp,
}

impl FleetPlan {
    /// Launch `id`'s stack: the shared one under its own name, token and launch id tag.
    fn stack(&self, id: &LaunchId) -> StackSpec {
        let mut spec = self.base.clone();
        spec.name = format!("fleet-{id}");
        spec.client_request_token = id.to_string();
        spec.tags.retain(|t| t.key != LAUNCH_ID_TAG);
        spec.tags.push(Tag::new(LAUNCH_ID_TAG, id.as_str()));
        spec
    }

    /// Launch `id`'s cluster.
    fn cluster(id: &LaunchId) -> ClusterSpec {
        let tags = vec![Tag::new(MANAGED_TAG.0, MANAGED_TAG.1), Tag::new(LAUNCH_ID_TAG, id.as_str())];
        ClusterSpec::spark(format!("fleet-{id}"), tags)
    }

    /// A record of the fleet's, before its cloud ids.
    fn record(&self, id: LaunchId, kind: ResourceKind, stack: StackSpec) -> Resource {
        let mut r = Resource::requested(id, kind, stack, self.now);
        r.owner = self.owner.username.clone();
        r.owner_groups = self.owner.groups.clone();
        r.group_config = self.group_config.clone();
        r.software_config = self.sc.clone();
        r.instance_type = self.ty.clone();
        r
    }

    /// Launch `id`'s instance, ready, on the stack and instance the cloud knows by its name.
    async fn instance_record(&self, cloud: &SimCloud, id: LaunchId) -> Result<Resource> {
        let stack = self.stack(&id);
        let found = cloud.describe_stack(&stack.name).await?;
        let found = found.ok_or_else(|| Error::NotFound { kind: "stack", name: stack.name.clone() })?;
        let mut r = self.record(id, ResourceKind::Instance, stack);
        r.instance_id = found.outputs.into_iter().find(|(k, _)| k == "InstanceId").map(|(_, v)| v);
        (r.stack_id, r.phase) = (Some(found.id), Phase::Ready);
        Ok(r)
    }

    /// Launch `id`'s cluster, waiting.
    fn cluster_record(&self, id: LaunchId, cluster_id: &str) -> Resource {
        let job_flow = Box::new(Self::cluster(&id));
        let mut r = self.record(id, ResourceKind::Cluster, self.base.clone());
        (r.cluster_id, r.job_flow, r.phase) = (Some(cluster_id.into()), Some(job_flow), Phase::Waiting);
        r
    }

    /// The instances' addresses, in one DescribeInstances by id.
    async fn address(&self, cloud: &SimCloud, records: &mut [Resource]) -> Result<()> {
        let ids: Vec<String> = records.iter().filter_map(|r| r.instance_id.clone()).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let listed = cloud.describe_instances(&InstanceFilter { ids, tag: None }, None).await?;
        let ips: HashMap<String, Option<String>> = listed.items.into_iter().map(|i| (i.id, i.private_ip)).collect();
        for r in records.iter_mut() {
            r.private_ip = r.instance_id.as_ref().and_then(|i| ips.get(i).cloned().flatten());
        }
        Ok(())
    }
}

/// Builds a fleet on `backing`, changes a share of it outside mliy, and measures one
/// refresh pass.
///
/// # Errors
/// As [`Fleet::build_on`].
pub fn refresh_only(catalog: Catalog, config: &FleetConfig, backing: Backing) -> Result<FleetReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(|e| Error::Backend { backend: "tokio", source: Box::new(e) })?;
    let base_kb = status_kb("VmRSS:");
    runtime.block_on(async {
        let fleet = Fleet::build_on(catalog, config, backing).await?;
        let writes = fleet.writes();
        let started = std::time::Instant::now();
        let report = fleet.refresh_once().await?;
        let wall_ms = started.elapsed().as_millis();
        let store_writes = fleet.writes() - writes;
        fleet.engine.shutdown();
        let call_bound = config.instances.div_ceil(1000) as u64
            + config.clusters.div_ceil(50) as u64
            + fleet.changed_outside as u64
            + 10;
        Ok(FleetReport {
            instances: config.instances,
            clusters: config.clusters,
            changed_outside: fleet.changed_outside,
            refresh: RefreshFigures { cloud_calls: report.cloud_calls, wall_ms, changes: report.changes },
            call_bound,
            store_writes,
            memory: memory(base_kb, config.instances + config.clusters),
        })
    })
}

/// The peak above `base_kb`, per resource of `resources`.
fn memory(base_kb: Option<u64>, resources: usize) -> Option<MemoryFigures> {
    let (base_kb, peak_kb) = (base_kb?, status_kb("VmHWM:")?);
    let bytes_per_resource = peak_kb.saturating_sub(base_kb) * 1024 / resources.max(1) as u64;
    Some(MemoryFigures { base_kb, peak_kb, bytes_per_resource })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_over_a_fleet_stays_within_its_call_bound() {
        let catalog = crate::sim::scenario::tests::catalog();
        let config = FleetConfig { instances: 2_000, clusters: 120, changed: 0.01, seed: 3 };
        let r = refresh_only(catalog, &config, Backing::Memory).unwrap();
        assert_eq!(r.changed_outside, 21, "{r:?}");
        assert_eq!(r.refresh.changes, r.changed_outside, "every change found: {r:?}");
        assert!(r.refresh.cloud_calls <= r.call_bound, "{r:?}");
        assert!(r.store_writes <= 3 * r.changed_outside as u64, "writes only for what changed: {r:?}");
    }
}
