//! Loading ec2instances.info's `instances.json` (MLiy's 2019 snapshot, 1.49 MB, 70 types in
//! 15 regions) into a `PriceIndex`, every region and one; and one price lookup. Python's
//! `json.load` of the same file takes about 8 ms.
//!
//! Run: `cargo bench --bench pricing`. Needs MLiy's fixtures (`../shared/fixtures/mliy`, or
//! `MLIY_FIXTURES`).
#![allow(missing_docs)] // criterion_group! generates undocumented items.
#![allow(clippy::unwrap_used)] // A benchmark: a panic is the failure report.

use criterion::{Criterion, criterion_group, criterion_main};
use mliy::pricing::{PriceIndex, PriceSource};
use std::hint::black_box;
use std::path::PathBuf;

fn fixture() -> Vec<u8> {
    let dir = std::env::var_os("MLIY_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/mliy"));
    std::fs::read(dir.join("ec2instances_info_2019-02.json")).expect("MLiy fixtures (set MLIY_FIXTURES)")
}

fn pricing(c: &mut Criterion) {
    let bytes = fixture();
    c.bench_function("load instances.json, every region", |b| {
        b.iter(|| PriceIndex::from_slice(black_box(&bytes), &[]).unwrap())
    });
    c.bench_function("load instances.json, us-east-1", |b| {
        b.iter(|| PriceIndex::from_slice(black_box(&bytes), &["us-east-1"]).unwrap())
    });
    c.bench_function("stream instances.json from a reader, us-east-1", |b| {
        b.iter(|| PriceIndex::from_reader(black_box(bytes.as_slice()), &["us-east-1"]).unwrap())
    });
    let index = PriceIndex::from_slice(&bytes, &[]).unwrap();
    c.bench_function("one on-demand lookup", |b| {
        b.iter(|| index.on_demand(black_box("us-east-1"), black_box("r3.2xlarge"), black_box("linux")).unwrap())
    });
}

criterion_group!(benches, pricing);
criterion_main!(benches);
