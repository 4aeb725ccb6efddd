//! The `mliy sim` scenario: a fleet launched, bootstrapped, stopped and started, and
//! terminated by several users on [`SimCloud`] through one or more engine replicas sharing a
//! store, in virtual time, with optional faults and crashes, then audited.
//!
//! Each replica is a simulated portal process (`replica.rs`): after every
//! `crash_every` resource writes it dies (its store and cloud calls fail from then on) and a
//! new process with the same replica id takes over and resumes. With a store on a real
//! database, virtual time stands still while store calls are under way, so that a slow disk
//! never looks like hours passing.

use super::image::{Bootstrap, MliyImage};
use super::replica::{Life, ReplicaCloud, ReplicaStore};
use mliy_core::clock::{Clock, Timestamp, VirtualClock};
use mliy_core::cloud::Cloud;
use mliy_core::engine::{Action, Engine, EngineConfig, RefreshConfig};
use mliy_core::error::{Error, Result};
use mliy_core::lifecycle::{Phase, Resource, ResourceKind};
use mliy_core::model::{Catalog, GroupMatch, LaunchId, Market, Principal};
use mliy_core::plan::{ClusterOptions, LaunchRequest};
use mliy_core::secret::Secret;
use mliy_core::sim::{SimCloud, SimConfig};
use mliy_core::store::{MemoryStore, ResourceFilter, StateStore};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// Each replica crashes and restarts after every this many resource writes.
    pub crash_every: Option<u64>,
    /// Decides faults.
    pub seed: u64,
    /// How many users launch.
    pub users: usize,
    /// Every this-many-th instance is stopped and started again before termination.
    pub stop_start_every: usize,
    /// Engine replicas sharing the store, all launching and acting.
    pub replicas: usize,
    /// Continue a run that was killed: nothing new is launched; what the store and the
    /// cloud's journal hold is driven to its end.
    pub resume: bool,
    /// The image the instances run.
    pub bootstrap: Bootstrap,
    /// What bills are priced with; the audit then checks the cost report against the
    /// stored events and the prices.
    pub pricing: Option<mliy_core::pricing::Pricing>,
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
            replicas: 1,
            resume: false,
            bootstrap: Bootstrap::Native,
            pricing: None,
        }
    }
}

/// What happened, audited against the cloud.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// Launches accepted (with `resume`: resources found in the store).
    pub launched: usize,
    /// Launches the run planned that never reached the store (a run killed while launching
    /// leaves some; the resumed run names how many).
    pub never_submitted: usize,
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
    /// Stacks (and job flows) created beyond one per launch.
    pub duplicate_stacks: u64,
    /// Stacks still existing at the end.
    pub orphaned_stacks: usize,
    /// Instances and clusters still running at the end.
    pub running_machines: usize,
    /// Launches whose record is missing or not finished at the end.
    pub lost: usize,
    /// Stop, start, delete and terminate calls that found their target already in that state:
    /// an action applied twice (should be 0).
    pub double_actions: u64,
    /// Engine replicas.
    pub replicas: usize,
    /// Engine restarts (crashes), over all replicas.
    pub restarts: u64,
    /// Refresh passes run (every replica process tries at its start and every 90 virtual
    /// seconds; one at a time runs).
    pub refresh_passes: u64,
    /// Records refresh changed.
    pub refresh_changes: u64,
    /// API calls by operation.
    pub cloud_calls: BTreeMap<String, u64>,
    /// Store writes of resources.
    pub store_writes: u64,
    /// Lifecycle events recorded.
    pub events: usize,
    /// The cost report's total over the run, when priced (a decimal string).
    pub cost_total: Option<String>,
    /// Instances whose cost in the report differs by more than half a cent from their
    /// stored events priced from the price file (should be 0).
    pub cost_mismatches: usize,
    /// Billing segments still open on an ended resource, or overlapping another of the same
    /// resource (should be 0).
    pub bad_segments: usize,
    /// Progress reports of MLiy images the engine accepted.
    pub progress_reports_accepted: u64,
    /// Progress reports of MLiy images the engine refused.
    pub progress_reports_refused: u64,
    /// Instances whose MLiy image had a report accepted that their history lacks, or holds out
    /// of order (should be 0).
    pub progress_steps_missing: usize,
    /// Virtual time the scenario took.
    pub virtual_seconds: u64,
    /// Real time it took.
    pub wall_ms: u128,
}

/// Longest virtual time a scenario may take before what is unfinished counts as lost.
const TIME_LIMIT: Duration = Duration::from_secs(14 * 24 * 3600);
/// How often the simulated users and bootstrap scripts look at their resources.
const TICK: Duration = Duration::from_secs(20);
/// The store key under which a run records how many launches it planned.
const PLANNED_KEY: &str = "mliy-sim:planned-launches";
/// Where virtual time starts.
const EPOCH: Timestamp = Timestamp(1_700_000_000_000);

/// Opens a store inside the scenario's runtime.
pub type OpenStore = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Result<Arc<dyn StateStore>>>>>>;

/// Where a scenario keeps its state.
pub enum Backing {
    /// A [`MemoryStore`]: nothing outlives the run.
    Memory,
    /// A store on a real database, and the simulated cloud's journal (see
    /// [`SimCloud::with_journal`]); both are needed to `resume`.
    External {
        /// Opens the store.
        open: OpenStore,
        /// The cloud's journal file.
        journal: Option<PathBuf>,
    },
}

/// Runs a scenario on a [`MemoryStore`] (see [`run_on`]).
///
/// # Errors
/// As [`run_on`].
pub fn run(catalog: Catalog, config: &ScenarioConfig) -> Result<ScenarioReport> {
    run_on(catalog, config, Backing::Memory)
}

/// Runs a scenario on its own single-threaded runtime in paused (virtual) time.
///
/// The catalog needs a group config with a software config for instances and, when
/// `clusters > 0`, one for clusters; per-user limits are lifted for the run.
///
/// # Errors
/// [`Error::Validation`] when the catalog has nothing to launch, when a fresh run finds the
/// store or the journal already used, or when `resume` lacks a journal; the runtime's, the
/// store's or the engine's errors.
pub fn run_on(catalog: Catalog, config: &ScenarioConfig, backing: Backing) -> Result<ScenarioReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(|e| Error::Backend { backend: "tokio", source: Box::new(e) })?;
    runtime.block_on(run_async(catalog, config, backing))
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
    let instance = pick(false, &gc.name);
    mliy_images_fit(catalog, config, instance.as_ref().map(|(sc, _)| sc.as_str()))?;
    Ok(Choice { group_config: gc.name.clone(), group, instance, cluster: pick(true, &gc.name) })
}

/// MLiy images need a software config that renders MLiy's progress URL, and die with the run.
fn mliy_images_fit(catalog: &Catalog, config: &ScenarioConfig, software_config: Option<&str>) -> Result<()> {
    if !config.bootstrap.is_mliy() {
        return Ok(());
    }
    if config.resume {
        return Err(Error::validation(
            "bootstrap",
            "mliy",
            "simulated MLiy images do not outlive a run: resume with native",
        ));
    }
    let sc = software_config.and_then(|name| catalog.software_config(name).ok());
    match sc {
        Some(sc) if sc.progress_protocol == mliy_core::model::ProgressProtocol::Mliy => Ok(()),
        _ => Err(Error::validation(
            "bootstrap",
            software_config.unwrap_or("none"),
            "MLiy images need a software config with progress_protocol: mliy (catalog import-mliy sets it)",
        )),
    }
}

/// What the simulated users remember of one launch, and the MLiy image it runs.
pub(super) struct Tracked {
    owner: Principal,
    token: Option<Secret>,
    stop_start: bool,
    stopped: bool,
    started: bool,
    terminating: bool,
    pub(super) image: Option<MliyImage>,
}

impl Tracked {
    fn new(owner: Principal, token: Option<Secret>, stop_start: bool) -> Tracked {
        Tracked { owner, token, stop_start, stopped: false, started: false, terminating: false, image: None }
    }
}

/// The progress secret a bootstrap script finds in its user data
/// (`PROGRESS_TOKEN='…'` in the example's script).
fn token_in_user_data(user_data_b64: &str) -> Option<Secret> {
    let text = user_data_text(user_data_b64)?;
    let start = text.find("PROGRESS_TOKEN='")? + "PROGRESS_TOKEN='".len();
    let end = text[start..].find('\'')?;
    Some(Secret::new(&text[start..start + end]))
}

/// The script in base64 user data, if it is UTF-8.
pub(super) fn user_data_text(user_data_b64: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(user_data_b64).ok()?;
    String::from_utf8(bytes).ok()
}

/// The run's shared parts, from which replica processes are made.
pub(super) struct World {
    pub(super) catalog: Catalog,
    pub(super) cloud: Arc<SimCloud>,
    pub(super) pricing: Option<mliy_core::pricing::Pricing>,
    store: Arc<dyn StateStore>,
    pub(super) clock: Arc<VirtualClock>,
    crash_every: Option<u64>,
    pub(super) writes: Arc<AtomicU64>,
    in_flight: Arc<AtomicUsize>,
    pub(super) refresh_passes: Arc<AtomicU64>,
    pub(super) refresh_changes: Arc<AtomicU64>,
    /// Every replica's progress key, the same after `--resume` (a deployment keeps its key
    /// outside the store; the simulator derives it from the seed).
    progress_key: Secret,
}

/// How often each replica tries to refresh.
const REFRESH_EVERY: Duration = Duration::from_secs(90);

impl World {
    /// A new process of replica `k`: an engine seeing the store and the cloud through its
    /// own life.
    fn process(&self, k: usize) -> Result<(Engine, Arc<Life>)> {
        let life = Life::new(self.crash_every, self.writes.clone(), self.in_flight.clone());
        let store = Arc::new(ReplicaStore { inner: self.store.clone(), life: life.clone() });
        let cloud: Arc<dyn Cloud> = Arc::new(ReplicaCloud { inner: self.cloud.clone(), life: life.clone() });
        let mut builder =
            Engine::builder().catalog(self.catalog.clone()).cloud(cloud).store(store).clock(self.clock.clone()).config(
                EngineConfig {
                    progress_url: Some("https://portal.example/progress".into()),
                    progress_key: Some(self.progress_key.clone()),
                    // A restarted process is the same replica: it takes its own leases back.
                    replica_id: format!("sim-replica-{k}"),
                    ..EngineConfig::default()
                },
            );
        if let Some(p) = &self.pricing {
            builder = builder.pricing(p.clone());
        }
        let engine = builder.build()?;
        self.refresh_loop(&engine);
        Ok((engine, life))
    }

    /// The process refreshes now and then, as every portal replica does; the store's lease
    /// lets one pass run at a time.
    fn refresh_loop(&self, engine: &Engine) {
        let (engine, clock) = (engine.clone(), self.clock.clone());
        let (passes, changes) = (self.refresh_passes.clone(), self.refresh_changes.clone());
        tokio::spawn(async move {
            let config = RefreshConfig { min_interval: REFRESH_EVERY / 2, ..RefreshConfig::default() };
            loop {
                // Let the process's first moments (launches, resumption) go first.
                tokio::task::yield_now().await;
                if engine.is_shut_down() {
                    return;
                }
                if let Ok(report) = engine.refresh(&config).await
                    && report.skipped.is_none()
                {
                    passes.fetch_add(1, Ordering::Relaxed);
                    changes.fetch_add(report.changes as u64, Ordering::Relaxed);
                }
                clock.sleep(REFRESH_EVERY).await;
            }
        });
    }
}

/// Each replica's current engine.
type Slots = Arc<Vec<Mutex<Engine>>>;

fn engine_of(slots: &Slots, k: usize) -> Result<Engine> {
    slots[k % slots.len()].lock().map(|e| e.clone()).map_err(|_| Error::Unavailable("engine lock".into()))
}

/// Keeps replica `k` alive: each time its process dies, a new one takes over and resumes.
fn supervise(world: Arc<World>, slots: Slots, k: usize, life: Arc<Life>, restarts: Arc<AtomicU64>) {
    tokio::spawn(async move {
        let mut life = life;
        loop {
            life.died().await;
            let Ok(old) = engine_of(&slots, k) else { return };
            old.shutdown();
            drop(old);
            let Ok((new, new_life)) = world.process(k) else { return };
            if let Ok(mut slot) = slots[k].lock() {
                *slot = new.clone();
            }
            life = new_life;
            let n = restarts.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::debug!(target: "mliy::launch", replica = k, restart = n, "simulated crash and restart");
            let _ = new.resume().await;
        }
    });
}

/// Set in the count of calls under way while the cloud's journal is replayed: nothing else
/// runs then, so the keeper only sleeps and tokio's paused clock, idle, goes straight to each
/// replayed call's recorded time (spinning, it would let time pass 5 s per real second).
const REPLAYING: usize = 1 << (usize::BITS - 1);

/// Lets virtual time pass only while no store or cloud call is under way: a real database
/// answers on other threads, and tokio's paused clock would otherwise jump ahead while it
/// waits. A call stuck for a real second (a driver's own timeout, say a pool's acquire
/// timeout, is then what ends it) lets time go on regardless.
pub(crate) fn keep_time(in_flight: Arc<AtomicUsize>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = std::time::Instant::now();
        loop {
            if in_flight.load(Ordering::SeqCst) & REPLAYING != 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            for _ in 0..32 {
                tokio::task::yield_now().await;
            }
            if in_flight.load(Ordering::SeqCst) == 0 {
                tokio::time::advance(Duration::from_millis(500)).await;
                last = std::time::Instant::now();
            } else if last.elapsed() > Duration::from_secs(1) {
                tracing::debug!(target: "mliy::launch", "store or cloud call stuck: letting time go on");
                tokio::time::advance(Duration::from_secs(5)).await;
                last = std::time::Instant::now();
            }
        }
    })
}

/// Opens the store and the cloud. With a real database, time stands still meanwhile (the
/// keeper is started first, and the opening counts as a call under way).
async fn open_world(
    catalog: Catalog,
    config: &ScenarioConfig,
    backing: Backing,
) -> Result<(World, Option<tokio::task::JoinHandle<()>>)> {
    let clock = Arc::new(VirtualClock::starting_at(EPOCH));
    let sim = SimConfig::faulty(config.seed, config.fault_rate);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (store, journal, keeper): (Arc<dyn StateStore>, _, _) = match backing {
        Backing::Memory => (Arc::new(MemoryStore::new()), None, None),
        Backing::External { open, journal } => {
            in_flight.fetch_add(1, Ordering::SeqCst);
            let keeper = keep_time(in_flight.clone());
            let store = open().await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            (store?, journal, Some(keeper))
        }
    };
    let cloud = match (&journal, config.resume) {
        (Some(path), true) => {
            // Replayed calls keep their recorded times (see REPLAYING).
            in_flight.fetch_add(REPLAYING, Ordering::SeqCst);
            let cloud = SimCloud::replay(clock.clone(), sim, path).await;
            in_flight.fetch_sub(REPLAYING, Ordering::SeqCst);
            cloud?
        }
        (None, true) => return Err(Error::validation("resume", "true", "needs the simulated cloud's journal")),
        (Some(path), false) => {
            if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
                return Err(Error::validation(
                    "journal",
                    path.display().to_string(),
                    "already holds a simulated cloud: resume it, or start afresh with another store",
                ));
            }
            SimCloud::new(clock.clone(), sim).with_journal(path)?
        }
        (None, false) => SimCloud::new(clock.clone(), sim),
    };
    in_flight.fetch_add(1, Ordering::SeqCst);
    let known = store.list_resources(&ResourceFilter { include_archived: true, ..Default::default() }).await;
    in_flight.fetch_sub(1, Ordering::SeqCst);
    let known = known?;
    if !config.resume && !known.is_empty() {
        return Err(Error::validation(
            "store",
            format!("{} resources", known.len()),
            "a fresh run needs an empty store: resume it, or use another one",
        ));
    }
    let world = World {
        catalog,
        cloud: Arc::new(cloud),
        pricing: config.pricing.clone(),
        store,
        clock,
        crash_every: config.crash_every.filter(|n| *n > 0),
        progress_key: Secret::new(format!("mliy-sim-progress-key-{}", config.seed)),
        writes: Arc::new(AtomicU64::new(0)),
        in_flight,
        refresh_passes: Arc::new(AtomicU64::new(0)),
        refresh_changes: Arc::new(AtomicU64::new(0)),
    };
    Ok((world, keeper))
}

async fn run_async(mut catalog: Catalog, config: &ScenarioConfig, backing: Backing) -> Result<ScenarioReport> {
    let wall = std::time::Instant::now();
    let choice = choose(&mut catalog, config)?;
    let (world, keeper) = open_world(catalog, config, backing).await?;
    let world = Arc::new(world);
    let (clock, cloud) = (world.clock.clone(), world.cloud.clone());
    // The users' own view of the store: counted as calls under way, never crashing.
    let store: Arc<dyn StateStore> = Arc::new(ReplicaStore {
        inner: world.store.clone(),
        life: Life::new(None, Arc::new(AtomicU64::new(0)), world.in_flight.clone()),
    });
    let started = clock.now();
    let replicas = config.replicas.max(1);
    let restarts = Arc::new(AtomicU64::new(0));
    let mut engines = Vec::new();
    let mut lives = Vec::new();
    for k in 0..replicas {
        let (engine, life) = world.process(k)?;
        engines.push(Mutex::new(engine));
        lives.push(life);
    }
    let slots: Slots = Arc::new(engines);
    if world.crash_every.is_some() {
        for (k, life) in lives.into_iter().enumerate() {
            supervise(world.clone(), slots.clone(), k, life, restarts.clone());
        }
    }

    // The first run records how many launches it plans, so a resumed one can tell.
    let planned_here = config.instances * usize::from(choice.instance.is_some())
        + config.clusters * usize::from(choice.cluster.is_some());
    let planned = match store.put_idempotency_key(PLANNED_KEY, &planned_here.to_string()).await? {
        Some(earlier) => earlier.parse().unwrap_or(planned_here),
        None => planned_here,
    };
    let mut tracked: HashMap<LaunchId, Tracked> = HashMap::new();
    if config.resume {
        let all = ResourceFilter { include_archived: true, ..ResourceFilter::default() };
        for r in store.list_resources(&all).await? {
            let owner = Principal::new(&r.owner, r.owner_groups.clone());
            // The bootstrap script will find its secret in its user data (below).
            tracked.insert(r.id.clone(), Tracked::new(owner, None, false));
        }
        for k in 0..replicas {
            engine_of(&slots, k)?.resume().await?;
        }
    } else {
        launch_all(config, &choice, &slots, &mut tracked).await?;
    }

    // Users and bootstrap scripts, every tick, each time through another replica.
    let all = ResourceFilter { include_archived: true, ..ResourceFilter::default() };
    let mut tick = 0usize;
    while clock.now().since(started) < TIME_LIMIT {
        let resources = match store.list_resources(&all).await {
            Err(e) if e.is_retryable() => {
                clock.sleep(TICK).await;
                continue;
            }
            other => other?,
        };
        let mut unfinished = 0;
        for (i, r) in resources.iter().enumerate() {
            let Some(t) = tracked.get_mut(&r.id) else { continue };
            unfinished += usize::from(r.needs_driving());
            if t.token.is_none() && matches!(r.phase, Phase::Bootstrapping { .. }) {
                t.token = cloud.user_data_of(&r.stack.client_request_token).and_then(|u| token_in_user_data(&u));
            }
            act(&engine_of(&slots, i + tick)?, &cloud, r, t).await;
        }
        cloud.mark_time()?;
        if unfinished == 0 {
            break;
        }
        tick += 1;
        clock.sleep(TICK).await;
    }
    for k in 0..replicas {
        engine_of(&slots, k)?.shutdown();
    }
    let report = super::audit::audit(&world, &store, &tracked, replicas).await;
    if let Some(keeper) = keeper {
        keeper.abort();
    }
    let mut report = report?;
    report.never_submitted = planned.saturating_sub(report.launched);
    report.restarts = restarts.load(Ordering::Relaxed);
    report.virtual_seconds = clock.now().since(started).as_secs();
    report.wall_ms = wall.elapsed().as_millis();
    Ok(report)
}

/// Launches the fleet, round-robin over the replicas.
async fn launch_all(
    config: &ScenarioConfig,
    choice: &Choice,
    slots: &Slots,
    tracked: &mut HashMap<LaunchId, Tracked>,
) -> Result<()> {
    let users: Vec<Principal> =
        (0..config.users.max(1)).map(|i| Principal::new(format!("user{i:03}"), [choice.group.clone()])).collect();
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
            let engine = engine_of(slots, i)?;
            let result = if is_cluster {
                engine.launch_cluster(&owner, request.clone()).await
            } else {
                engine.launch_instance(&owner, request.clone()).await
            };
            match result {
                Err(e) if e.is_retryable() => tokio::task::yield_now().await,
                // A dead process may have stored the launch before it died.
                Err(Error::AlreadyExists(_)) if engine.get(&owner, &request.launch_id).await.is_ok() => {
                    break None;
                }
                other => break Some(other?),
            }
        };
        let stop_start = !is_cluster && config.stop_start_every > 0 && i % config.stop_start_every == 0;
        let token = launched.and_then(|l| l.progress_token);
        let mut t = Tracked::new(owner, token, stop_start);
        t.image = if is_cluster { None } else { config.bootstrap.image(i) };
        tracked.insert(request.launch_id.clone(), t);
    }
    Ok(())
}

/// What a user (or the bootstrap script) does next with a resource. Users start work once an
/// MLiy image has run its script.
async fn act(engine: &Engine, cloud: &SimCloud, r: &Resource, t: &mut Tracked) {
    if let Some(image) = t.image.as_mut().filter(|i| !i.finished()) {
        image.step(cloud, engine, &r.stack.client_request_token).await;
        return;
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn catalog() -> Catalog {
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
    fn replicas_sharing_a_store_never_double_anything() {
        for seed in [4, 5] {
            let config = ScenarioConfig {
                instances: 60,
                clusters: 6,
                fault_rate: 0.1,
                crash_every: Some(20),
                replicas: 3,
                seed,
                ..ScenarioConfig::default()
            };
            let r = run(catalog(), &config).unwrap();
            assert!(r.restarts > 10, "{r:?}");
            assert_eq!(
                (r.duplicate_stacks, r.orphaned_stacks, r.running_machines, r.lost, r.double_actions),
                (0, 0, 0, 0, 0),
                "seed {seed}: {r:?}"
            );
            assert_eq!(r.unexpected_failures, 0, "seed {seed}: {r:?}");
            assert_eq!(r.failed + r.terminated, 66, "seed {seed}: {r:?}");
        }
    }

    #[test]
    fn resume_needs_a_journal() {
        let config = ScenarioConfig { resume: true, ..ScenarioConfig::default() };
        let e = run(catalog(), &config).unwrap_err();
        assert!(e.to_string().contains("journal"), "{e}");
    }

    #[test]
    fn tokens_are_found_in_user_data() {
        use base64::Engine as _;
        let script = "#!/bin/sh\nPROGRESS_TOKEN='abc123'\ncurl ...\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(script);
        assert_eq!(token_in_user_data(&b64).unwrap().expose(), "abc123");
        assert!(token_in_user_data("not base64!").is_none());
    }

    #[test]
    fn a_catalog_without_launchable_configs_is_refused() {
        let e = run(Catalog::default(), &ScenarioConfig::default()).unwrap_err();
        assert!(matches!(e, Error::Validation(_)), "{e}");
    }
}
