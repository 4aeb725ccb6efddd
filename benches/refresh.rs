//! One refresh pass over 10,000 instances and 1,000 clusters, and over 100,000 and 10,000, on
//! SimCloud, 1% of them changed outside mliy (stopped, terminated), on the memory store and on
//! a SQLite file. Bounds: ⌈instances/1,000⌉ + ⌈clusters/50⌉ + changes + 10 cloud calls, store
//! writes only for what changed, and the large pass at most 11× the small one.
//!
//! Run: `cargo bench --bench refresh --features sim,sqlite`.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mliy::sim::fleet::{Fleet, FleetConfig};
use mliy::sim::scenario::{Backing, OpenStore};
use mliy::store::StateStore;
use std::sync::Arc;

const FLEETS: [FleetConfig; 2] = [
    FleetConfig { instances: 10_000, clusters: 1_000, changed: 0.01, seed: 1 },
    FleetConfig { instances: 100_000, clusters: 10_000, changed: 0.01, seed: 1 },
];

/// Where the fleet is stored.
#[derive(Clone, Copy)]
enum On {
    Memory,
    Sqlite,
}

/// The fleet on its store, in a runtime of its own (a SQLite store in a new file).
fn build(config: &FleetConfig, on: On) -> (tokio::runtime::Runtime, Fleet, Option<tempfile::TempDir>) {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("runtime");
    let catalog = mliy::demo::catalog().expect("catalog");
    let (backing, dir) = match on {
        On::Memory => (Backing::Memory, None),
        On::Sqlite => {
            let dir = tempfile::tempdir().expect("dir");
            let path = dir.path().join("fleet.db");
            let open: OpenStore = Box::new(move || {
                Box::pin(async move {
                    let store = mliy::plugins::sqlite::SqliteStore::open(path).await?;
                    Ok(Arc::new(store) as Arc<dyn StateStore>)
                })
            });
            (Backing::External { open, journal: None }, Some(dir))
        }
    };
    let fleet = runtime.block_on(Fleet::build_on(catalog, config, backing)).expect("fleet");
    (runtime, fleet, dir)
}

/// Once outside the timing, to check the figures the bounds are about.
fn check(config: &FleetConfig, on: On) {
    let (runtime, fleet, _dir) = build(config, on);
    let writes = fleet.writes();
    let report = runtime.block_on(fleet.refresh_once()).expect("pass");
    let bound = config.instances.div_ceil(1000) as u64
        + config.clusters.div_ceil(50) as u64
        + fleet.changed_outside as u64
        + 10;
    assert!(report.cloud_calls <= bound, "{} cloud calls, bound {bound}", report.cloud_calls);
    assert_eq!(report.changes, fleet.changed_outside);
    eprintln!(
        "refresh of {}/{}: {} cloud calls (bound {bound}), {} changes, {} store writes",
        config.instances,
        config.clusters,
        report.cloud_calls,
        report.changes,
        fleet.writes() - writes
    );
    if let Some(kb) = mliy::sim::fleet::status_kb("VmHWM:") {
        let per = kb as f64 * 1024.0 / (config.instances + config.clusters) as f64;
        eprintln!("peak memory so far: {} MB, {per:.0} bytes per resource of this fleet", kb / 1024);
    }
}

fn bench_refresh(c: &mut Criterion) {
    for (on, name) in [(On::Memory, "refresh"), (On::Sqlite, "refresh_sqlite")] {
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        for config in &FLEETS {
            check(config, on);
            let name = format!("pass_{}_instances_{}_clusters_1pct_changed", config.instances, config.clusters);
            group.bench_function(name, |b| {
                // By reference: dropping the fleet and its runtime is not part of the pass.
                b.iter_batched_ref(
                    || build(config, on),
                    |(runtime, fleet, _)| runtime.block_on(fleet.refresh_once()).expect("pass"),
                    BatchSize::PerIteration,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_refresh);
criterion_main!(benches);
