//! The HTTP API in process (tower's `oneshot` on the router, a bearer token): listing one
//! user's resources and getting one, with 10, 1,000 and 100,000 resources in a SQLite store
//! (10,000 users with 10 each at the largest). Besides criterion's figures it prints p50 and
//! p99 over 1,000 calls of each at each size; the issue asks p99 ≤ 5 ms at 100,000.
//!
//! Run: `cargo bench --bench http`.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use mliy::auth::StaticAuth;
use mliy::engine::Engine;
use mliy::model::Principal;
use mliy::store::StateStore;
use mliy_core::testkit::sample_resource;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tower::ServiceExt;

const PER_USER: usize = 10;

/// A store of `n` resources, `PER_USER` per user, and a router over it; alice is `user0`.
fn setup(runtime: &Runtime, dir: &std::path::Path, n: usize) -> (axum::Router, String, String) {
    let store: Arc<dyn StateStore> = Arc::new(
        runtime.block_on(mliy::plugins::sqlite::SqliteStore::open(dir.join(format!("{n}.db")))).expect("sqlite"),
    );
    let started = Instant::now();
    // One writer: SQLite takes one at a time.
    runtime.block_on(async {
        for i in 0..n {
            let r = sample_resource(&format!("r{i:07}"), &format!("user{}", i / PER_USER));
            store.insert_resource(&r, None).await.expect("insert");
        }
    });
    eprintln!("{n} resources stored in {:.1} s", started.elapsed().as_secs_f64());
    let clock = Arc::new(mliy::clock::SystemClock);
    let cloud = Arc::new(mliy::sim::SimCloud::new(clock.clone(), mliy::sim::SimConfig::default()));
    let engine = runtime.block_on(async {
        Engine::builder()
            .catalog(mliy::demo::catalog().expect("catalog"))
            .cloud(cloud)
            .store(store)
            .clock(clock)
            .build()
    });
    let engine = engine.expect("engine");
    let auth = StaticAuth::new().with_user(Principal::new("user0", ["data-science"]), "pw");
    let app = runtime.block_on(async { mliy::http::router(engine, Arc::new(auth), mliy::http::HttpConfig::default()) });
    let login = Request::post("/api/v1/login")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"username":"user0","password":"pw"}"#))
        .expect("request");
    let token = runtime.block_on(async {
        let answer = app.clone().oneshot(login).await.expect("login");
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 16).await.expect("body");
        serde_json::from_slice::<serde_json::Value>(&bytes).expect("json")["token"].as_str().expect("token").to_string()
    });
    (app, token, "r0000003".to_string())
}

/// One GET through the router; panics unless it answers 200.
async fn get(app: &axum::Router, token: &str, uri: &str) {
    let request =
        Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).expect("request");
    let answer = app.clone().oneshot(request).await.expect("answer");
    assert!(answer.status().is_success(), "{uri}: {}", answer.status());
    axum::body::to_bytes(answer.into_body(), 1 << 20).await.expect("body");
}

/// p50 and p99 of 1,000 calls.
fn percentiles(runtime: &Runtime, app: &axum::Router, token: &str, uri: &str) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..1_000)
        .map(|_| {
            let start = Instant::now();
            runtime.block_on(get(app, token, uri));
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[500], times[990])
}

fn bench_http(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let mut group = c.benchmark_group("http");
    group.sample_size(50);
    for n in [10usize, 1_000, 100_000] {
        let (app, token, one) = setup(&runtime, dir.path(), n);
        let list = "/api/v1/resources".to_string();
        let detail = format!("/api/v1/resources/{one}");
        group.bench_function(format!("list_one_users_{PER_USER}_of_{n}"), |b| {
            b.iter(|| runtime.block_on(get(&app, &token, &list)))
        });
        group.bench_function(format!("get_one_of_{n}"), |b| b.iter(|| runtime.block_on(get(&app, &token, &detail))));
        for (what, uri) in [("list", &list), ("get", &detail)] {
            let (p50, p99) = percentiles(&runtime, &app, &token, uri);
            eprintln!("{what} at {n}: p50 {:.3} ms, p99 {:.3} ms", p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3);
        }
    }
    group.finish();
}

criterion_group!(benches, bench_http);
criterion_main!(benches);
