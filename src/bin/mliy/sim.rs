//! `mliy sim`: a fleet on the simulated cloud in virtual time, with faults and crashes.

use crate::Output;
use clap::Args;
use mliy::config::StoreConfig;
use mliy::error::Error;
use mliy::model::Catalog;
use mliy::sim::Bootstrap;
use mliy::sim::scenario::{self, ScenarioConfig};
use serde_json::Value;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct SimArgs {
    /// Instances to launch.
    #[arg(long, default_value_t = 10)]
    instances: usize,
    /// Clusters to launch.
    #[arg(long, default_value_t = 2)]
    clusters: usize,
    /// Share of API calls that fail (0 to 1); stacks fail at a tenth and instances vanish at
    /// a twentieth of it.
    #[arg(long, default_value_t = 0.0)]
    faults: f64,
    /// Restart the engine after every K transitions (K ≥ 1).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    crash_every: Option<u64>,
    /// Seed of every simulated fault.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Users who launch (at least 1).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    users: u64,
    /// The image the instances run: `native` (the example's), `mliy-classic` or
    /// `mliy-config-ebs` (MLiy's two install scripts, on a catalog from `catalog import-mliy`),
    /// or `mliy` (both, alternating).
    #[arg(long, default_value = "native", value_parser = parse_bootstrap)]
    bootstrap: Bootstrap,
    /// Price bills from this ec2instances.info `instances.json` (us-east-1); the audit then
    /// checks the cost report against the stored events priced from it.
    #[arg(long)]
    prices: Option<PathBuf>,
    /// A catalog file (the example catalog when not given).
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// Where the engines keep their state: `sqlite:PATH` (by default a new file in the
    /// temporary folder, when built with SQLite), `postgres:URL`, or `memory`.
    #[arg(long)]
    store: Option<String>,
    /// The simulated cloud's journal, needed to resume (`PATH.cloud.jsonl` beside a SQLite store).
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Engine replicas sharing the store, all launching and acting (at least 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    replicas: u64,
    /// Continue a run that was killed, from its store and the cloud's journal.
    #[arg(long)]
    resume: bool,
    /// Put a standing fleet (instances ready, clusters waiting) in the simulated cloud and the
    /// store, change 1% of it outside mliy, and report one refresh pass (without faults or
    /// crashes: `--faults`, `--crash-every`, `--replicas` and `--resume` are refused).
    #[arg(long)]
    refresh_only: bool,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_bootstrap(s: &str) -> Result<Bootstrap, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// `mliy sim --refresh-only`.
fn refresh_only(catalog: Catalog, args: &SimArgs) -> Result<Output, Error> {
    use mliy::sim::fleet::{FleetConfig, refresh_only};
    let config = FleetConfig { instances: args.instances, clusters: args.clusters, changed: 0.01, seed: args.seed };
    let spec = store_spec(args)?;
    let store = StoreConfig::from_spec("--store", &spec)?;
    let file = match (&store, &args.store) {
        (StoreConfig::Sqlite(path), None) => Some(path.clone()),
        _ => None,
    };
    let backing = match store {
        StoreConfig::Memory => scenario::Backing::Memory,
        other => scenario::Backing::External { open: opener(other), journal: None },
    };
    let report = refresh_only(catalog, &config, backing);
    // The default store is a file of this run alone.
    for suffix in ["", "-wal", "-shm"].iter().filter(|_| file.is_some()) {
        let _ = std::fs::remove_file(format!(
            "{}{suffix}",
            file.as_ref().map(|f| f.display().to_string()).unwrap_or_default()
        ));
    }
    let report = report?;
    let json = serde_json::to_value(&report).map_err(|e| Error::parse("output", e.to_string()))?;
    let human = format!(
        "refresh of {} instances and {} clusters, {} changed outside mliy: {} cloud calls (bound {}), \
         {} changes, {} store writes, {} ms{}\n",
        report.instances,
        report.clusters,
        report.changed_outside,
        report.refresh.cloud_calls,
        report.call_bound,
        report.refresh.changes,
        report.store_writes,
        report.refresh.wall_ms,
        report.memory.as_ref().map_or(String::new(), |m| format!(
            "; peak memory {} MB, {} bytes per resource above the base",
            m.peak_kb / 1024,
            m.bytes_per_resource
        ))
    );
    Ok(Output::new(json, human))
}

/// `--refresh-only` runs without faults or crashes: the flags it would ignore are refused.
fn refresh_only_alone(args: &SimArgs) -> Result<(), Error> {
    let given = [
        ("--faults", args.faults != 0.0),
        ("--crash-every", args.crash_every.is_some()),
        ("--replicas", args.replicas != 1),
        ("--resume", args.resume),
        ("--journal", args.journal.is_some()),
        ("--bootstrap", args.bootstrap != Bootstrap::Native),
        ("--prices", args.prices.is_some()),
    ];
    match given.iter().find(|(_, set)| *set) {
        Some((flag, _)) => Err(Error::validation(
            *flag,
            "given",
            "--refresh-only measures one pass over a standing fleet, without faults or crashes",
        )),
        None => Ok(()),
    }
}

/// `--store`, or the default: a new SQLite file in the temporary folder.
fn store_spec(args: &SimArgs) -> Result<String, Error> {
    match (&args.store, args.resume) {
        (Some(spec), _) => Ok(spec.clone()),
        (None, true) => Err(Error::validation("--store", "", "name the store to resume")),
        (None, false) => {
            let file = std::env::temp_dir().join(format!("mliy-sim-{}-{}.sqlite", args.seed, std::process::id()));
            Ok(format!("sqlite:{}", file.display()))
        }
    }
}

/// The store named by `--store` (and the cloud's journal beside a SQLite file), opened
/// through the registry by each simulated replica process.
fn backing(args: &SimArgs) -> Result<scenario::Backing, Error> {
    let store = StoreConfig::from_spec("--store", &store_spec(args)?)?;
    let journal = match &store {
        StoreConfig::Memory if args.resume => {
            return Err(Error::validation("--store", "memory", "a memory store cannot be resumed: use sqlite:PATH"));
        }
        StoreConfig::Memory => return Ok(scenario::Backing::Memory),
        StoreConfig::Sqlite(path) => {
            Some(args.journal.clone().unwrap_or_else(|| PathBuf::from(format!("{}.cloud.jsonl", path.display()))))
        }
        StoreConfig::Postgres(_) => args.journal.clone(),
    };
    Ok(scenario::Backing::External { open: opener(store), journal })
}

/// Opens `store` through the registry, when the run asks.
fn opener(store: StoreConfig) -> scenario::OpenStore {
    Box::new(move || Box::pin(async move { mliy::registry::store(&store, std::path::Path::new(".")).await }))
}

pub(crate) fn sim(args: &SimArgs) -> Result<Output, Error> {
    if !(0.0..=1.0).contains(&args.faults) {
        return Err(Error::validation("--faults", args.faults.to_string(), "a share from 0 to 1"));
    }
    let catalog = match &args.catalog {
        Some(path) => Catalog::from_path(path)?,
        None => mliy::demo::catalog()?,
    };
    if args.refresh_only {
        refresh_only_alone(args)?;
        return refresh_only(catalog, args);
    }
    let config = ScenarioConfig {
        instances: args.instances,
        clusters: args.clusters,
        fault_rate: args.faults,
        crash_every: args.crash_every,
        seed: args.seed,
        users: usize::try_from(args.users).unwrap_or(usize::MAX),
        replicas: usize::try_from(args.replicas).unwrap_or(usize::MAX),
        resume: args.resume,
        bootstrap: args.bootstrap,
        pricing: match &args.prices {
            Some(path) => {
                let index = mliy::pricing::PriceIndex::load(path, &["us-east-1"])?;
                Some(mliy::pricing::Pricing::new(std::sync::Arc::new(index), "us-east-1"))
            }
            None => None,
        },
        ..ScenarioConfig::default()
    };
    let report = scenario::run_on(catalog, &config, backing(args)?)?;
    let mut json = serde_json::to_value(&report).map_err(|e| Error::parse("output", e.to_string()))?;
    let store = store_spec(args)?;
    // Name the store, never a connection string's password.
    let shown = mliy::secret::redact_url(&store);
    json["store"] = Value::String(shown.clone());
    let human = format!(
        "launched {} · ready {} · failed {} (doomed by the simulator: {}) · terminated {}\n\
         duplicate stacks {} · orphaned stacks {} · lost {} · double actions {} · replicas {} · engine restarts {}\n\
         progress reports refused {} · instances missing a progress step {}\n\
         cost {} · cost mismatches {} · bad billing segments {}\n\
         {} cloud calls · {} virtual seconds · {} ms · store {shown}\n",
        report.launched,
        report.ready,
        report.failed,
        report.told_to_fail,
        report.terminated,
        report.duplicate_stacks,
        report.orphaned_stacks,
        report.lost,
        report.double_actions,
        report.replicas,
        report.restarts,
        report.progress_reports_refused,
        report.progress_steps_missing,
        report.cost_total.as_deref().unwrap_or("unpriced"),
        report.cost_mismatches,
        report.bad_segments,
        report.cloud_calls.values().sum::<u64>(),
        report.virtual_seconds,
        report.wall_ms
    );
    // The audit's findings fail the run (exit 1), with the report still printed.
    let clean = report.duplicate_stacks == 0
        && report.orphaned_stacks == 0
        && report.running_machines == 0
        && report.lost == 0
        && report.double_actions == 0
        && report.unexpected_failures == 0
        && report.progress_steps_missing == 0
        && report.cost_mismatches == 0
        && report.bad_segments == 0;
    Ok(Output { code: if clean { 0 } else { 1 }, ..Output::new(json, human) })
}
