//! Building a launch plan for MLiy's EC2 template with a 3 KB user-data script and 25 params.
//!
//! Run: `cargo bench --bench plan`. Needs MLiy's fixtures (`../shared/fixtures/mliy`, or
//! `MLIY_FIXTURES`).
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{Criterion, criterion_group, criterion_main};
use mliy::model::{Catalog, Param, Principal, Source};
use mliy::plan::{LaunchRequest, Planner};
use std::hint::black_box;
use std::path::PathBuf;

fn template() -> String {
    let dir = std::env::var_os("MLIY_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/mliy"));
    std::fs::read_to_string(dir.join("AWS_EC2_MLiy_CloudFormation.json")).expect("MLiy fixtures (set MLIY_FIXTURES)")
}

/// 25 tokens and a script of about 3,000 bytes that uses each of them.
fn script_and_params() -> (String, Vec<Param>) {
    let params: Vec<Param> =
        (0..25).map(|i| Param::new(format!("TOKEN_{i:02}"), format!("value-number-{i}"))).collect();
    let mut script = String::from("#!/bin/bash\nset -euo pipefail\n");
    let mut i = 0;
    while script.len() < 2_950 {
        script.push_str(&format!("export VAR_{i}=\"{{{{{{TOKEN_{:02}}}}}}}\" # configure step {i}\n", i % 25));
        i += 1;
    }
    (script, params)
}

fn catalog() -> Catalog {
    let (script, params) = script_and_params();
    let mut catalog = Catalog::from_yaml_str(
        "instance_types: [{name: r3.2xlarge}, {name: m4.large}]
security_groups: [{id: sg-11111111}, {id: sg-00000000}, {id: sg-00020002}, {id: sg-03000300}]
software_configs:
  - name: MLiyDefault
    ami_id: ami-0abcdef1234567890
    instance_name: AWSLXMLIYTST
    compatible_instance_types: [r3.2xlarge, m4.large]
    permitted_group_configs: [MLiySampleConfig]
    volume: {device_path: /dev/xvdz, default_size: 100}
group_configs:
  - name: MLiySampleConfig
    group: manager
    ags: MLiy
    cost_center: PROJECT001
    sdlc: DEV
    key_name: APP_MLiy_KEY
    iam_instance_profile: APP_MLiy_CLIENT
    default_security_groups: [sg-11111111, sg-00000000, sg-00020002]
    optional_security_groups: [sg-03000300]
    network: {subnet_id: subnet-0a1b2c3d, availability_zone: us-east-1a}
",
    )
    .expect("catalog");
    let sc = &mut catalog.software_configs[0];
    sc.template = Some(Source::inline(template()));
    sc.user_data = Some(Source::inline(script));
    sc.params = params;
    catalog
}

fn bench_plan(c: &mut Criterion) {
    let planner = Planner::new(catalog()).expect("planner");
    let principal = Principal::new("dana.o'neil", ["manager"]);
    let request = LaunchRequest::instance("MLiySampleConfig", "MLiyDefault", "r3.2xlarge")
        .with_optional_security_groups(["sg-03000300"]);
    let plan = planner.plan(&principal, &request).expect("plan");
    assert!(plan.unknown_tokens.is_empty() && plan.user_data.as_ref().is_some_and(|u| u.len() > 2_900));
    c.bench_function("plan_ec2_3kb_userdata_25_params", |b| {
        b.iter(|| planner.plan(black_box(&principal), black_box(&request)).expect("plan"))
    });
}

criterion_group!(benches, bench_plan);
criterion_main!(benches);
