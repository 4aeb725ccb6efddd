//! One refresh pass over 10,000 instances and 1,000 clusters on SimCloud, 1% of them changed
//! outside mliy (stopped, terminated). Targets: ≤ ⌈10,000/1,000⌉ + ⌈1,000/50⌉ + 110 + 10 = 150
//! cloud calls, ≤ 150 ms, store writes only for what changed.
//!
//! Run: `cargo bench --bench refresh`.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mliy::sim::fleet::{Fleet, FleetConfig};

const FLEET: FleetConfig = FleetConfig { instances: 10_000, clusters: 1_000, changed: 0.01, seed: 1 };

fn bench_refresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("refresh");
    group.sample_size(10);
    let build = || {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("runtime");
        let catalog = mliy::demo::catalog().expect("catalog");
        let fleet = runtime.block_on(Fleet::build(catalog, &FLEET)).expect("fleet");
        (runtime, fleet)
    };
    // Once outside the timing, to check the figures the targets are about.
    let (runtime, fleet) = build();
    let writes = fleet.store.writes();
    let report = runtime.block_on(fleet.refresh_once()).expect("pass");
    let bound = 10 + 20 + fleet.changed_outside as u64 + 10;
    assert!(report.cloud_calls <= bound, "{} cloud calls, bound {bound}", report.cloud_calls);
    assert_eq!(report.changes, fleet.changed_outside);
    eprintln!(
        "refresh: {} cloud calls (bound {bound}), {} changes, {} store writes",
        report.cloud_calls,
        report.changes,
        fleet.store.writes() - writes
    );
    group.bench_function("pass_10000_instances_1000_clusters_1pct_changed", |b| {
        // By reference: dropping the fleet and its runtime is not part of the pass.
        b.iter_batched_ref(
            build,
            |(runtime, fleet)| runtime.block_on(fleet.refresh_once()).expect("pass"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_refresh);
criterion_main!(benches);
