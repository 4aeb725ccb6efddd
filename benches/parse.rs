//! Parsing and rendering hostile input: each case at two sizes, 10× apart, to show the work
//! grows linearly (it grew quadratically before; see the README's figures).
//!
//! Run: `cargo bench --bench parse`.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mliy::template::{Template, parse_yaml};
use mliy::userdata::render;
use std::hint::black_box;

/// A YAML template declaring `n` parameters.
fn parameters(n: usize) -> String {
    let mut text = String::from("Parameters:\n");
    for i in 0..n {
        text.push_str(&format!("  P{i}: {{Type: String}}\n"));
    }
    text + "Resources: {R: {Type: X}}\n"
}

/// `n` anchors, each aliased once.
fn anchors(n: usize) -> String {
    (0..n).map(|i| format!("- &a{i} v\n- *a{i}\n")).collect()
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    for n in [6_000, 60_000] {
        let text = parameters(n);
        group.bench_with_input(BenchmarkId::new("yaml_parameters", n), &text, |b, t| {
            b.iter(|| Template::parse("t", black_box(t)).expect("parses"))
        });
    }
    for n in [20_000, 200_000] {
        let text = anchors(n);
        group.bench_with_input(BenchmarkId::new("yaml_anchors", n), &text, |b, t| {
            b.iter(|| parse_yaml(black_box(t)).expect("parses"))
        });
    }
    group.finish();
}

fn bench_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    group.sample_size(10);
    let values = [("A", "x")];
    for (name, unit, n) in [
        ("open_braces", "{", 20_000),
        ("open_braces", "{", 200_000),
        ("triples", "{{{", 30_000),
        ("triples", "{{{", 300_000),
    ] {
        let script = unit.repeat(n);
        group.bench_with_input(BenchmarkId::new(name, script.len()), &script, |b, s| {
            b.iter(|| render(black_box(s), &[&values]).expect("renders"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_parse, bench_render);
criterion_main!(benches);
