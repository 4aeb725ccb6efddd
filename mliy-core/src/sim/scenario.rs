//! The `mliy sim` scenario: a fleet launched, bootstrapped, stopped and started, and
//! terminated by several users on [`SimCloud`] and [`MemoryStore`] in virtual time, with
//! optional faults and engine crashes, then audited.

use super::{SimCloud, SimConfig};
use crate::clock::{Clock, Timestamp, VirtualClock};
use crate::engine::{Action, Engine, EngineConfig};
use crate::error::{Error, Result};
use crate::lifecycle::{Phase, ResourceKind};
use crate::model::{Catalog, GroupMatch, Principal};
use crate::plan::{ClusterOptions, LaunchId, LaunchRequest, Market};
use crate::secret::Secret;
use crate::store::{MemoryStore, ResourceFilter, StateStore};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct ScenarioConfig {
    /// Instances to launch.
    pub instances: usize,
    /// Clusters to launch.
    pub clusters: usize,
    /// Share of API calls that fail (stacks fail at a tenth, instances vanish at a
    /// twentieth of it).
    pub fault_rate: f64,
    /// Restart the engine after every this many transitions.
    pub crash_every: Option<u64>,
    /// Decides faults.
    pub seed: u64,
    /// How many users launch.
    pub users: usize,
    /// Every this-many-th instance is stopped and started again before termination.
    pub stop_start_every: usize,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            instances: 10,
            clusters: 2,
            fault_rate: 0.0,
            crash_every: None,
            seed: 1,
            users: 10,
            stop_start_every: 3,
        }
    }
}

/// What happened, audited against the cloud.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// Launches accepted.
    pub launched: usize,
    /// Resources that became usable.
    pub ready: usize,
    /// Resources that ended Failed.
    pub failed: usize,
    /// Resources that ended terminated.
    pub terminated: usize,
    /// Failed resources the simulator had not doomed (should be 0).
    pub unexpected_failures: usize,
    /// Launches the simulator doomed (failing stack or vanishing instance).
    pub told_to_fail: usize,
    /// Why resources failed: reason (up to its first colon) → count.
    pub failure_reasons: BTreeMap<String, usize>,
    /// Stacks created beyond one per launch.
    pub duplicate_stacks: u64,
    /// Stacks still existing at the end.
    pub orphaned_stacks: usize,
    /// Instances and clusters still running at the end.
    pub running_machines: usize,
    /// Launches whose record is missing or not finished at the end.
    pub lost: usize,
    /// Engine restarts.
    pub restarts: u64,
    /// API calls by operation.
    pub cloud_calls: BTreeMap<String, u64>,
    /// Store writes.
    pub store_writes: u64,
    /// Lifecycle events recorded.
    pub events: usize,
    /// Virtual time the scenario took.
    pub virtual_seconds: u64,
    /// Real time it took.
    pub wall_ms: u128,
}

/// Longest virtual time a scenario may take before what is unfinished counts as lost.
const TIME_LIMIT: Duration = Duration::from_secs(14 * 24 * 3600);
/// How often the simulated users and bootstrap scripts look at their resources.
const TICK: Duration = Duration::from_secs(20);

/// Runs a scenario on its own single-threaded runtime in paused (virtual) time.
///
/// The catalog needs a group config with a software config for instances and, when
/// `clusters > 0`, one for clusters; per-user limits are lifted for the run.
///
/// # Errors
/// [`Error::Validation`] when the catalog has nothing to launch; the runtime's or the
/// engine's errors.
pub fn run(catalog: Catalog, config: &ScenarioConfig) -> Result<ScenarioReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| Error::Backend { backend: "tokio", source: Box::new(e) })?;
    runtime.block_on(run_async(catalog, config))
}

/// What the scenario launches.
struct Choice {
    group_config: String,
    group: String,
    instance: Option<(String, String)>,
    cluster: Option<(String, String)>,
}

fn choose(catalog: &mut Catalog, config: &ScenarioConfig) -> Result<Choice> {
    for gc in &mut catalog.group_configs {
        gc.settings.max_running_per_user = None;
    }
    let pick = |emr: bool, gc: &str| {
        catalog
            .software_configs
            .iter()
            .find(|s| s.emr == emr && s.permitted_group_configs.iter().any(|g| g == gc))
            .and_then(|s| s.compatible_instance_types.first().map(|t| (s.name.clone(), t.clone())))
    };
    let gc = catalog
        .group_configs
        .iter()
        .find(|g| {
            pick(false, &g.name).is_some() && (config.clusters == 0 || (g.emr_access && pick(true, &g.name).is_some()))
        })
        .ok_or_else(|| {
            Error::validation(
                "catalog",
                "group_configs",
                "needs a group config with an instance (and cluster) software config",
            )
        })?;
    let group = match gc.group_match {
        GroupMatch::Cn => format!("cn={},ou=groups", gc.group),
        GroupMatch::Name | GroupMatch::Dn => gc.group.clone(),
    };
    Ok(Choice { group_config: gc.name.clone(), group, instance: pick(false, &gc.name), cluster: pick(true, &gc.name) })
}

/// What the simulated users remember of one launch.
struct Tracked {
    owner: Principal,
    token: Option<Secret>,
    stop_start: bool,
    stopped: bool,
    started: bool,
    terminating: bool,
}

async fn run_async(mut catalog: Catalog, config: &ScenarioConfig) -> Result<ScenarioReport> {
    let wall = std::time::Instant::now();
    let choice = choose(&mut catalog, config)?;
    let clock = Arc::new(VirtualClock::starting_at(Timestamp(1_700_000_000_000)));
    let cloud = Arc::new(SimCloud::new(clock.clone(), SimConfig::faulty(config.seed, config.fault_rate)));
    let store = Arc::new(MemoryStore::new());
    let make = {
        let (catalog, cloud, store, clock) = (catalog.clone(), cloud.clone(), store.clone(), clock.clone());
        move || {
            Engine::builder()
                .catalog(catalog.clone())
                .cloud(cloud.clone())
                .store(store.clone())
                .clock(clock.clone())
                .config(EngineConfig {
                    progress_url: Some("https://portal.example/progress".into()),
                    // A restarted engine is the same replica: it takes its own leases back.
                    replica_id: "sim-replica".into(),
                    ..EngineConfig::default()
                })
                .build()
        }
    };
    let current = Arc::new(Mutex::new(make()?));
    let engine = || current.lock().map(|e| e.clone()).map_err(|_| Error::Unavailable("engine lock".into()));
    let restarts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    if let Some(every) = config.crash_every.filter(|n| *n > 0) {
        // Crash right after every `every`-th write of a resource: the store freezes (the
        // process is dead from that point), the cloud too, then a new engine takes over.
        let (current, restarts, store, cloud) = (current.clone(), restarts.clone(), store.clone(), cloud.clone());
        let make = make.clone();
        tokio::spawn(async move {
            loop {
                store.freeze_after(every);
                store.frozen().await;
                cloud.set_frozen(true);
                let Ok(old) = current.lock().map(|e| e.clone()) else { return };
                old.shutdown();
                drop(old);
                let Ok(new) = make() else { return };
                if let Ok(mut slot) = current.lock() {
                    *slot = new.clone();
                }
                cloud.set_frozen(false);
                store.thaw();
                let n = restarts.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                tracing::debug!(target: "mliy::launch", restart = n, writes = store.writes(), "simulated crash and restart");
                let _ = new.resume().await;
            }
        });
    }

    let users: Vec<Principal> =
        (0..config.users.max(1)).map(|i| Principal::new(format!("user{i:03}"), [choice.group.clone()])).collect();
    let mut tracked: HashMap<LaunchId, Tracked> = HashMap::new();
    let mut launches = Vec::new();
    if let Some((sc, ty)) = &choice.instance {
        launches.extend((0..config.instances).map(|_| LaunchRequest::instance(&choice.group_config, sc, ty)));
    }
    if let Some((sc, ty)) = &choice.cluster {
        let options =
            ClusterOptions { core_nodes: 2, task_nodes: 0, market: Market::OnDemand, purpose: "simulation".into() };
        launches.extend(
            (0..config.clusters).map(|_| LaunchRequest::cluster(&choice.group_config, sc, ty, options.clone())),
        );
    }
    for (i, request) in launches.into_iter().enumerate() {
        // Ids from the seed, so that a run can be repeated exactly.
        let request = request.with_launch_id(LaunchId::parse(&format!("s{}-{i:06}", config.seed))?);
        let owner = users[i % users.len()].clone();
        let is_cluster = request.cluster.is_some();
        let launched = loop {
            let engine = engine()?;
            let result = if is_cluster {
                engine.launch_cluster(&owner, request.clone()).await
            } else {
                engine.launch_instance(&owner, request.clone()).await
            };
            match result {
                Err(e) if e.is_retryable() => tokio::task::yield_now().await,
                other => break other?,
            }
        };
        let stop_start = !is_cluster && config.stop_start_every > 0 && i % config.stop_start_every == 0;
        let t = Tracked {
            owner,
            token: launched.progress_token,
            stop_start,
            stopped: false,
            started: false,
            terminating: false,
        };
        tracked.insert(launched.resource.id, t);
    }

    // Users and bootstrap scripts, every tick.
    let all = ResourceFilter { include_archived: true, ..ResourceFilter::default() };
    while clock.elapsed() < TIME_LIMIT {
        let engine = engine()?;
        let resources = store.list_resources(&all).await?;
        let mut unfinished = 0;
        for r in &resources {
            let Some(t) = tracked.get_mut(&r.id) else { continue };
            if r.needs_driving() {
                unfinished += 1;
            }
            match (&r.phase, r.kind) {
                (Phase::Bootstrapping { percent, .. }, ResourceKind::Instance) => {
                    if let Some(token) = &t.token {
                        let next = (percent + 25).min(100);
                        let _ = engine.report_progress(&r.id, token.expose(), next, "installing packages").await;
                    }
                }
                (Phase::Ready, _) if t.stop_start && !t.stopped => {
                    t.stopped = engine.act(&t.owner, &r.id, Action::Stop).await.is_ok();
                }
                (Phase::Stopped, _) if !t.started => {
                    t.started = engine.act(&t.owner, &r.id, Action::Start).await.is_ok();
                }
                (Phase::Ready | Phase::Waiting, _) if !t.terminating && (!t.stop_start || t.started) => {
                    t.terminating = engine.act(&t.owner, &r.id, Action::Terminate).await.is_ok();
                }
                _ => {}
            }
        }
        if tracing::enabled!(target: "mliy::launch", tracing::Level::DEBUG) {
            let mut by: BTreeMap<&str, usize> = BTreeMap::new();
            for r in &resources {
                *by.entry(r.phase.name()).or_default() += 1;
            }
            tracing::debug!(target: "mliy::launch", seconds = clock.elapsed().as_secs(), phases = ?by, "simulation tick");
        }
        if unfinished == 0 {
            break;
        }
        clock.sleep(TICK).await;
    }
    if let Ok(e) = engine() {
        e.shutdown();
    }

    // Audit.
    let resources = store.list_resources(&all).await?;
    let mut report = ScenarioReport {
        launched: tracked.len(),
        ready: 0,
        failed: 0,
        terminated: 0,
        unexpected_failures: 0,
        told_to_fail: 0,
        failure_reasons: BTreeMap::new(),
        duplicate_stacks: cloud.duplicate_stacks(),
        orphaned_stacks: cloud.live_stacks().len(),
        running_machines: cloud.running_machines(),
        lost: 0,
        restarts: restarts.load(std::sync::atomic::Ordering::Relaxed),
        cloud_calls: cloud.calls(),
        store_writes: store.writes(),
        events: 0,
        virtual_seconds: clock.elapsed().as_secs(),
        wall_ms: 0,
    };
    let known: HashSet<&LaunchId> = resources.iter().map(|r| &r.id).collect();
    report.lost = tracked.keys().filter(|id| !known.contains(id)).count();
    for r in &resources {
        let doomed = cloud.doom_of(&r.stack.client_request_token).is_some();
        report.told_to_fail += usize::from(doomed);
        let events = store.events(&r.id).await?;
        report.events += events.len();
        if events.iter().any(|e| e.to.is_usable()) {
            report.ready += 1;
        }
        match &r.phase {
            _ if r.needs_driving() => report.lost += 1,
            Phase::Failed { reason } => {
                // Group by the reason's words, ids left out.
                let head = reason.split(':').next().unwrap_or(reason);
                let short =
                    head.split(' ').filter(|w| !w.chars().any(|c| c.is_ascii_digit())).collect::<Vec<_>>().join(" ");
                *report.failure_reasons.entry(short).or_default() += 1;
                report.failed += 1;
                report.unexpected_failures += usize::from(!doomed);
            }
            _ => report.terminated += 1,
        }
    }
    report.wall_ms = wall.elapsed().as_millis();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn catalog() -> Catalog {
        Catalog::from_yaml_str(
            r#"
instance_types: [{name: t3.large}, {name: m5.xlarge}]
security_groups: [{id: sg-0b1b2c3d}, {id: sg-0b1b2c3e}]
software_configs:
  - name: notebook
    ami_id: ami-0123abcd
    has_progress_bar: true
    compatible_instance_types: [t3.large]
    permitted_group_configs: [ds]
    template: {inline: "Parameters: {InstanceType: {Type: String}}\nResources: {I: {Type: 'AWS::EC2::Instance'}}"}
  - name: spark
    emr: true
    compatible_instance_types: [m5.xlarge]
    permitted_group_configs: [ds]
    template: {inline: "Parameters: {paramInstanceType: {Type: String}}\nResources: {C: {Type: 'AWS::EMR::Cluster'}}"}
group_configs:
  - {name: ds, group: data-science, emr_access: true, settings: {max_running_per_user: 1}}
"#,
        )
        .unwrap()
    }

    #[test]
    fn a_calm_fleet_ends_clean() {
        let config = ScenarioConfig { instances: 30, clusters: 5, ..ScenarioConfig::default() };
        let r = run(catalog(), &config).unwrap();
        assert_eq!((r.launched, r.ready, r.terminated, r.failed), (35, 35, 35, 0), "{r:?}");
        assert_eq!((r.duplicate_stacks, r.orphaned_stacks, r.running_machines, r.lost), (0, 0, 0, 0), "{r:?}");
        assert_eq!(r.cloud_calls["CreateStack"], 35);
        assert!(r.cloud_calls["StopInstances"] >= 10 && r.cloud_calls["StartInstances"] >= 10, "{r:?}");
    }

    #[test]
    fn a_faulty_crashing_fleet_loses_nothing() {
        for seed in [1, 2, 3] {
            let config = ScenarioConfig {
                instances: 60,
                clusters: 8,
                fault_rate: 0.2,
                crash_every: Some(25),
                seed,
                ..ScenarioConfig::default()
            };
            let r = run(catalog(), &config).unwrap();
            assert!(r.restarts > 10, "{r:?}");
            assert_eq!(
                (r.duplicate_stacks, r.orphaned_stacks, r.running_machines, r.lost),
                (0, 0, 0, 0),
                "seed {seed}: {r:?}"
            );
            assert_eq!(r.unexpected_failures, 0, "seed {seed}: {r:?}");
            assert_eq!(r.failed + r.terminated, 68, "seed {seed}: {r:?}");
        }
    }

    #[test]
    fn a_catalog_without_launchable_configs_is_refused() {
        let e = run(Catalog::default(), &ScenarioConfig::default()).unwrap_err();
        assert!(matches!(e, Error::Validation(_)), "{e}");
    }
}
