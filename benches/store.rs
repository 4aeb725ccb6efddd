//! The SQL stores: transitions per second (one writer, and 4 or 8 concurrent tasks), a
//! refresh write-back (100 changed records in one transaction), and one user's 10 records
//! listed from a store of 10,000 and of 100,000 (stored with `insert_resources`), whole and as
//! a page of one phase (`list_page`, through the `(owner, phase, kind, id)` index).
//!
//! Run: `cargo bench --bench store --features sqlite,postgres`. SQLite runs in a temporary
//! file; PostgreSQL runs when `MLIY_POSTGRES_URL` names a database to use (its tables are
//! created there), e.g. `postgres://postgres@127.0.0.1:5432/bench`.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mliy::lifecycle::ResourceKind;
use mliy::store::{PageQuery, ResourceChange, ResourceFilter, StateStore};
use mliy_core::testkit::sample_resource;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::runtime::Runtime;

const PER_ITERATION: u64 = 100;

/// `PER_ITERATION` compare-and-set updates spread over `tasks` resources (one per task).
async fn transitions(store: Arc<dyn StateStore>, ids: &[String], round: &AtomicU64, tasks: usize) {
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

/// One batch of `PER_ITERATION` changed records, as a refresh pass writes them back.
async fn write_back(store: &dyn StateStore, ids: &[String], round: &AtomicU64) {
    let expected = round.fetch_add(1, Ordering::Relaxed) + 1;
    let changes: Vec<ResourceChange> = ids
        .iter()
        .map(|id| {
            let mut r = sample_resource(id, "alice");
            r.version = expected + 1;
            r.private_ip = Some(format!("10.1.{}.{}", expected % 250, id.len()));
            ResourceChange { resource: r, expected_version: expected, event: None }
        })
        .collect();
    store.update_resources(&changes).await.expect("batch");
}

fn bench_backend(c: &mut Criterion, runtime: &Runtime, name: &str, open: &dyn Fn(&str) -> Arc<dyn StateStore>) {
    // Ids of their own, so that reruns on one PostgreSQL database never collide.
    let run = mliy::model::LaunchId::new_random();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(PER_ITERATION));
    group.sample_size(20);
    for tasks in [1usize, 4, 8] {
        let store = open(&format!("transitions-{tasks}"));
        let ids: Vec<String> = (0..tasks).map(|t| format!("{run}-{tasks}-{t}")).collect();
        for id in &ids {
            runtime.block_on(store.insert_resource(&sample_resource(id, "alice"), None)).expect("insert");
        }
        let round = AtomicU64::new(0);
        group.bench_function(format!("transitions_{tasks}_writers"), |b| {
            b.iter(|| runtime.block_on(transitions(store.clone(), &ids, &round, tasks)))
        });
    }
    let store = open("write-back");
    let ids: Vec<String> = (0..PER_ITERATION).map(|i| format!("{run}-r{i:03}")).collect();
    for id in &ids {
        runtime.block_on(store.insert_resource(&sample_resource(id, "alice"), None)).expect("insert");
    }
    let round = AtomicU64::new(0);
    group.bench_function("write_back_100_in_one_transaction", |b| {
        b.iter(|| runtime.block_on(write_back(store.as_ref(), &ids, &round)))
    });
    group.finish();
    bench_listing(c, runtime, name, open, &run.to_string());
}

/// One user's 10 records listed from a store of `n`, 10 records per user.
fn bench_listing(
    c: &mut Criterion,
    runtime: &Runtime,
    name: &str,
    open: &dyn Fn(&str) -> Arc<dyn StateStore>,
    run: &str,
) {
    let mut group = c.benchmark_group(format!("{name}_listing"));
    group.sample_size(50);
    for n in [10_000usize, 100_000] {
        let store = open(&format!("listing-{n}"));
        let owner = |i: usize| format!("{run}-user{}", i / 10);
        let all: Vec<_> = (0..n).map(|i| sample_resource(&format!("{run}-l{n}-{i:06}"), &owner(i))).collect();
        let started = std::time::Instant::now();
        runtime.block_on(store.insert_resources(&all)).expect("insert");
        eprintln!("{name}: {n} records stored in batches in {:.1} s", started.elapsed().as_secs_f64());
        let mine = ResourceFilter { owner: Some(owner(n / 2)), ..ResourceFilter::default() };
        group.bench_function(format!("one_users_10_of_{n}"), |b| {
            b.iter(|| assert_eq!(runtime.block_on(store.list_resources(&mine)).expect("list").len(), 10))
        });
        let page = PageQuery { owner: mine.owner.clone(), ..PageQuery::new(ResourceKind::Instance, "requested", 50) };
        group.bench_function(format!("one_users_page_in_one_phase_of_{n}"), |b| {
            b.iter(|| assert_eq!(runtime.block_on(store.list_page(&page)).expect("page").len(), 10))
        });
    }
    group.finish();
}

fn bench_stores(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = |name: &str| -> Arc<dyn StateStore> {
        let path = dir.path().join(format!("{name}.db"));
        Arc::new(runtime.block_on(mliy::plugins::sqlite::SqliteStore::open(path)).expect("sqlite"))
    };
    bench_backend(c, &runtime, "sqlite", &sqlite);
    #[cfg(feature = "postgres")]
    match std::env::var("MLIY_POSTGRES_URL") {
        Ok(url) => {
            let postgres = |_: &str| -> Arc<dyn StateStore> {
                Arc::new(runtime.block_on(mliy::plugins::postgres::PostgresStore::connect(&url)).expect("postgres"))
            };
            bench_backend(c, &runtime, "postgres", &postgres);
        }
        Err(_) => eprintln!("postgres: skipped (set MLIY_POSTGRES_URL to a database to benchmark it)"),
    }
}

criterion_group!(benches, bench_stores);
criterion_main!(benches);
