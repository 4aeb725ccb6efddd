//! Transitions per second on the SQLite store: one writer, and 8 concurrent tasks.
//!
//! Run: `cargo bench --bench store --features sqlite`. (PostgreSQL and the batched refresh
//! write-back come with the rest of the store work.)
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mliy::plugins::sqlite::SqliteStore;
use mliy::store::StateStore;
use mliy_core::testkit::sample_resource;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const PER_ITERATION: u64 = 100;

/// `PER_ITERATION` compare-and-set updates spread over `tasks` resources (one per task).
async fn transitions(store: Arc<SqliteStore>, ids: &[String], round: &AtomicU64, tasks: usize) {
    let base = round.fetch_add(1, Ordering::Relaxed) * (PER_ITERATION / tasks as u64);
    let mut handles = Vec::new();
    for id in ids.iter().take(tasks) {
        let (store, id) = (store.clone(), id.clone());
        handles.push(tokio::spawn(async move {
            for k in 0..PER_ITERATION / tasks as u64 {
                let mut r = sample_resource(&id, "alice");
                let expected = base + k + 1;
                r.version = expected + 1;
                store.update_resource(&r, expected, None).await.expect("update");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
}

fn bench_store(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let mut group = c.benchmark_group("sqlite");
    group.throughput(Throughput::Elements(PER_ITERATION));
    group.sample_size(20);
    for tasks in [1usize, 4, 8] {
        let store = runtime
            .block_on(SqliteStore::open(dir.path().join(format!("bench-{tasks}.db"))))
            .map(Arc::new)
            .expect("store");
        let ids: Vec<String> = (0..tasks).map(|t| format!("bench-{t}")).collect();
        for id in &ids {
            runtime.block_on(store.insert_resource(&sample_resource(id, "alice"), None)).expect("insert");
        }
        let round = AtomicU64::new(0);
        group.bench_function(format!("transitions_{tasks}_writers"), |b| {
            b.iter(|| runtime.block_on(transitions(store.clone(), &ids, &round, tasks)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_store);
criterion_main!(benches);
