//! 1,000 and 10,000 concurrent instance launches to Ready on SimCloud in virtual time (the
//! issue's bound: 10,000 in at most 12× the time of 1,000, measured in the same run).
//!
//! Run: `cargo bench --bench engine`. Prints store writes and cloud calls per launch once.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{Criterion, criterion_group, criterion_main};
use mliy::clock::{Timestamp, VirtualClock};
use mliy::engine::Engine;
use mliy::lifecycle::Phase;
use mliy::model::{LaunchId, Principal};
use mliy::plan::LaunchRequest;
use mliy::sim::{SimCloud, SimConfig};
use mliy::store::{MemoryStore, ResourceFilter, StateStore};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZES: [usize; 2] = [1_000, 10_000];

/// Launches `launches` instances at once and waits until all are Ready; returns the wall time,
/// store writes and cloud calls.
fn run(launches: usize) -> (Duration, u64, u64) {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("runtime");
    runtime.block_on(async {
        let mut catalog = mliy::demo::catalog().expect("demo catalog");
        for sc in &mut catalog.software_configs {
            sc.has_progress_bar = false;
        }
        for gc in &mut catalog.group_configs {
            gc.settings.max_running_per_user = None;
        }
        let clock = Arc::new(VirtualClock::starting_at(Timestamp(0)));
        let cloud = Arc::new(SimCloud::new(clock.clone(), SimConfig::default()));
        let store = Arc::new(MemoryStore::new());
        let engine = Engine::builder()
            .catalog(catalog)
            .cloud(cloud.clone())
            .store(store.clone())
            .clock(clock.clone())
            .build()
            .expect("engine");
        let alice = Principal::new("alice", ["cn=data-science,ou=groups,dc=example,dc=com"]);
        let start = Instant::now();
        for i in 0..launches {
            let id = LaunchId::parse(&format!("bench-{i:06}")).expect("id");
            let request = LaunchRequest::instance("data-science", "notebook", "r5.2xlarge").with_launch_id(id);
            engine.launch_instance(&alice, request).await.expect("launch");
        }
        loop {
            let all = store.list_resources(&ResourceFilter::default()).await.expect("list");
            if all.iter().all(|r| r.phase == Phase::Ready) {
                break;
            }
            // Checked every 30 virtual seconds: each check lists the whole store, the
            // benchmark's own cost, not the engine's.
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        let wall = start.elapsed();
        (wall, store.writes(), cloud.calls().values().sum())
    })
}

fn bench_engine(c: &mut Criterion) {
    for launches in SIZES {
        let (wall, writes, calls) = run(launches);
        eprintln!(
            "{launches} launches to Ready in {wall:?}: {:.1} store writes and {:.1} cloud calls per launch",
            writes as f64 / launches as f64,
            calls as f64 / launches as f64
        );
    }
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    for launches in SIZES {
        group.bench_function(format!("{launches}_concurrent_launches_to_ready"), |b| b.iter(|| run(launches)));
    }
    group.finish();
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
