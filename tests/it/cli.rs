//! The `mliy` command line, run as a user would.

use super::fixtures::{self, EC2, EMR};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn mliy(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mliy")).args(args).output().expect("run mliy");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, String::from_utf8_lossy(&out.stderr).to_string())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `mliy plan --json` for `user` in `group`, plus `extra` arguments.
fn plan(catalog: &Path, (user, group): (&str, &str), configs: [&str; 3], extra: &[&str]) -> (i32, Value, String) {
    let [group_config, software_config, instance_type] = configs;
    let mut args = vec![
        "plan",
        "--catalog",
        s(catalog),
        "--user",
        user,
        "--group",
        group,
        "--group-config",
        group_config,
        "--software-config",
        software_config,
        "--instance-type",
        instance_type,
        "--json",
    ];
    args.extend_from_slice(extra);
    mliy(&args)
}

#[test]
fn template_inspect_json() {
    let (code, json, _) = mliy(&["template", "inspect", s(&fixtures::path(EMR)), "--json"]);
    assert_eq!(code, 0);
    let params = json["parameters"].as_array().unwrap();
    assert_eq!(params.len(), 44);
    let name = &params[0];
    assert_eq!(name["name"], "paramClusterName");
    assert_eq!(name["type"], "String");
    assert_eq!((name["min_length"].as_u64(), name["max_length"].as_u64()), (Some(20), Some(40)));
    assert_eq!(name["default"], Value::Null);
    assert_eq!(name["no_echo"], false);
    let market = params.iter().find(|p| p["name"] == "paramMarketType").unwrap();
    assert_eq!(market["allowed_values"], serde_json::json!(["ON_DEMAND", "SPOT"]));
    let bid = params.iter().find(|p| p["name"] == "paramBidPrice").unwrap();
    assert_eq!((bid["min_value"].as_f64(), bid["max_value"].as_f64()), (Some(0.01), Some(12.0)));
    assert_eq!(json["outputs"], serde_json::json!(["StackID", "ClusterID", "MasterDNS"]));
    assert_eq!(json["resources"]["SPARK"], "AWS::EMR::Cluster");
}

#[test]
fn template_inspect_refuses_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, needle) in [
        ("bad.json", "{\"Parameters\": {", "EOF"),
        ("bad.yaml", "Parameters:\n  A: [\n", "line"),
        ("type.yaml", "Parameters: {A: {Type: Strin}}\nResources: {R: {Type: X}}\n", "unknown Type \"Strin\""),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let (code, json, _) = mliy(&["template", "inspect", s(&path), "--json"]);
        assert_eq!(code, 2, "{name}");
        assert_eq!(json["error"]["kind"], "parse", "{name}");
        assert!(json["error"]["message"].as_str().unwrap().contains(needle), "{name}: {json}");
    }
    let (code, _, stderr) = mliy(&["template", "inspect", "/no/such/template.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/no/such/template.json"), "{stderr}");
}

#[test]
fn userdata_render_json() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("ud.sh");
    std::fs::write(&script, "a={{{A}}} b={{{ B }}} c={{{C}}} c2={{{C}}} z={{{Z}}}").unwrap();
    let params = dir.path().join("p.json");
    std::fs::write(&params, r#"{"A": "1", " B ": "2", "Y": "unused"}"#).unwrap();
    let (code, json, _) = mliy(&["userdata", "render", s(&script), "--params", s(&params), "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json["rendered"], "a=1 b=2 c={{{C}}} c2={{{C}}} z={{{Z}}}");
    assert_eq!(json["unknown_tokens"], serde_json::json!(["C", "Z"]));
    assert_eq!(json["base64_len"], 52);
    assert_eq!(json["fits_cloudformation"], true);

    // Too big for CloudFormation: printed, and the exit code says it cannot be used.
    std::fs::write(&script, "x".repeat(5 * 1024)).unwrap();
    let (code, json, _) = mliy(&["userdata", "render", s(&script), "--params", s(&params), "--json"]);
    assert_eq!(code, 2);
    assert_eq!((json["fits_cloudformation"].as_bool(), json["base64_len"].as_u64()), (Some(false), Some(6828)));

    std::fs::write(&params, r#"{"A": 1}"#).unwrap();
    let (code, json, _) = mliy(&["userdata", "render", s(&script), "--params", s(&params), "--json"]);
    assert_eq!((code, json["error"]["field"].as_str()), (2, Some("params.A")));
}

/// Imports the fixture through the CLI, then plans from the written catalog.
#[test]
fn import_then_plan() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("userdata.sh");
    std::fs::write(&script, fixtures::script(2_000)).unwrap();
    let catalog = dir.path().join("catalog.yaml");
    let template = format!("MLiyDefault={}", fixtures::path(EC2).display());
    let user_data = format!("MLiyDefault={}", script.display());
    let (code, json, stderr) = mliy(&[
        "catalog",
        "import-mliy",
        s(&fixtures::path("simpledb.json")),
        "--instance-types",
        s(&fixtures::path("instance_types_fixture.json")),
        "--template",
        &template,
        "--user-data",
        &user_data,
        "--subnet-id",
        "subnet-0a1b2c3d",
        "--availability-zone",
        "us-east-1a",
        "--out",
        s(&catalog),
        "--json",
    ]);
    assert_eq!(code, 0, "{json} {stderr}");
    assert_eq!(json["instance_types"], 29);
    let text = std::fs::read_to_string(&catalog).unwrap();
    assert!(text.contains("path: userdata.sh"), "paths are relative to the catalog:\n{text}");
    // The fixture's AMI is a placeholder; give a well-formed one and allow m4.large.
    let text = text
        .replace("ami_id: ami-id", "ami_id: ami-0abcdef1234567890")
        .replace("  - c4.xlarge\n", "  - c4.xlarge\n  - m4.large\n");
    std::fs::write(&catalog, text).unwrap();

    let member = ("dana", "manager");
    let m4 = ["MLiySampleConfig", "MLiyDefault", "m4.large"];
    let id = ["--launch-id", "00000000abcd"];
    let (code, json, stderr) = plan(&catalog, member, m4, &id);
    assert_eq!(code, 0, "{json} {stderr}");
    assert_eq!(json["stack_name"], "AWSLXMLiyTSTMLiy-00000000abcd");
    assert!(json["user_data"].as_str().unwrap().starts_with("#!/bin/bash"));
    assert!(json["warnings"][0].as_str().unwrap().contains("InstanceConfig"), "{json}");
    let tags = json["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["key"] == "LaunchedBy" && t["value"] == "MLIY"));

    let (code, json, _) = plan(&catalog, member, m4, &["--volume-size", "2000"]);
    assert_eq!(code, 2);
    assert_eq!(json["error"]["kind"], "validation");
    assert_eq!(
        (json["error"]["field"].as_str(), json["error"]["rule"].as_str()),
        (Some("VolumeSize"), Some("MaxValue 1024"))
    );

    let (code, json, _) = plan(&catalog, member, ["MLiySampleConfig", "Nope", "m4.large"], &[]);
    assert_eq!((code, json["error"]["kind"].as_str()), (2, Some("not_found")));

    let (code, json, _) = plan(&catalog, ("eve", "sales"), m4, &[]);
    assert_eq!((code, json["error"]["kind"].as_str()), (2, Some("forbidden")));

    let (code, json, _) = plan(&catalog, member, m4, &["--launch-id", "Not_An_Id"]);
    assert_eq!((code, json["error"]["field"].as_str()), (2, Some("launch_id")));
}

#[test]
fn plan_refuses_a_malformed_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("c.yaml");
    std::fs::write(&catalog, "group_configs:\n  - name: a\n    group: [unclosed\n").unwrap();
    let (code, json, _) = plan(&catalog, ("u", "g"), ["a", "s", "t"], &[]);
    assert_eq!(code, 2);
    assert_eq!(json["error"]["kind"], "parse");
    assert!(json["error"]["message"].as_str().unwrap().contains("line"), "{json}");
}

/// The README's demo commands, on the example catalog.
#[test]
fn readme_demo_plans() {
    let catalog = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/catalog/catalog.yaml");
    let alice = ("alice", "cn=data-science,ou=groups,dc=example,dc=com");
    let (code, json, stderr) = plan(&catalog, alice, ["data-science", "notebook", "r5.2xlarge"], &[]);
    assert_eq!(code, 0, "{json} {stderr}");
    assert_eq!(json["unknown_tokens"], serde_json::json!([]), "every token of the example script has a value");
    assert!(json["user_data"].as_str().unwrap().contains("--owner 'alice'"));
    let spot = ["--cluster", "--core-nodes", "3", "--spot", "--bid", "0.3"];
    let (code, json, stderr) = plan(&catalog, alice, ["data-science", "spark", "m5.xlarge"], &spot);
    assert_eq!(code, 0, "{json} {stderr}");
    assert_eq!(json["kind"], "cluster");
    let (code, _, _) = mliy(&["template", "inspect", s(&catalog.with_file_name("cluster.yaml"))]);
    assert_eq!(code, 0);
}

/// `mliy sim` with faults and crashes: nothing duplicated, orphaned or lost, for several
/// seeds (the full-size run, 1,000 instances and 100 clusters, is in `scripts/test.sh`).
#[test]
fn sim_with_faults_and_crashes_loses_nothing() {
    for seed in ["1", "2", "3"] {
        let args = format!(
            "sim --store memory --instances 150 --clusters 15 --faults 0.1 --crash-every 50 --seed {seed} --json"
        );
        let (code, json, stderr) = mliy(&args.split_whitespace().collect::<Vec<_>>());
        assert_eq!(code, 0, "{stderr}");
        for key in ["duplicate_stacks", "orphaned_stacks", "lost", "unexpected_failures", "running_machines"] {
            assert_eq!(json[key], 0, "seed {seed}: {key} in {json}");
        }
        assert_eq!(json["launched"], 165);
        let ended = json["terminated"].as_u64().unwrap() + json["failed"].as_u64().unwrap();
        assert_eq!(ended, 165, "seed {seed}: every resource ends terminal: {json}");
        assert!(json["failed"].as_u64() <= json["told_to_fail"].as_u64(), "{json}");
        assert!(json["restarts"].as_u64().unwrap() > 10, "{json}");
        assert!(json["cloud_calls"]["CreateStack"].as_u64().unwrap() >= 165);
        assert!(json["virtual_seconds"].as_u64().unwrap() > 600);
    }
    let (code, json, _) = mliy(&["sim", "--faults", "1.5", "--json"]);
    assert_eq!((code, json["error"]["field"].as_str()), (2, Some("--faults")));
}

/// `mliy sim --refresh-only`: one pass over a standing fleet within the call bound, on the
/// default SQLite store and in memory alike.
#[test]
fn sim_refresh_only_stays_within_its_bound() {
    let fleet = ["sim", "--refresh-only", "--instances", "3000", "--clusters", "300", "--json"];
    let (code, json, stderr) = mliy(&fleet);
    assert_eq!(code, 0, "{stderr}");
    let calls = json["refresh"]["cloud_calls"].as_u64().unwrap();
    assert!(calls <= json["call_bound"].as_u64().unwrap(), "{json}");
    assert_eq!(json["call_bound"], 3 + 6 + 33 + 10, "{json}");
    assert_eq!(json["refresh"]["changes"], json["changed_outside"], "{json}");
    assert!(json["refresh"]["wall_ms"].is_u64());
    let (code, memory, stderr) = mliy(&[&fleet[..], &["--store", "memory"]].concat());
    assert_eq!(code, 0, "{stderr}");
    let same = |r: &Value| (r["refresh"]["cloud_calls"].clone(), r["refresh"]["changes"].clone());
    assert_eq!(same(&memory), same(&json));
    // Writes follow the changes; the drivers the changes wake may add a few, as their timing goes.
    for run in [&json, &memory] {
        let (writes, changed) = (run["store_writes"].as_u64().unwrap(), run["changed_outside"].as_u64().unwrap());
        assert!(writes <= 3 * changed, "writes only for what changed: {run}");
    }
}

/// `--json` holds for every failure, argument errors included; zeros are refused, not
/// coerced; `--refresh-only` refuses the flags it cannot honour; a URL's password never shows.
#[test]
fn every_failure_is_json_and_nothing_is_coerced() {
    for args in [
        &["sim", "--instances", "abc", "--json"][..],
        &["sim", "--users", "0", "--json"],
        &["sim", "--replicas", "0", "--json"],
        &["sim", "--crash-every", "0", "--json"],
        &["plan", "--json"],
        &["no-such-command", "--json"],
    ] {
        let (code, json, _) = mliy(args);
        assert_eq!(code, 2, "{args:?}");
        assert_eq!(json["error"]["kind"], "usage", "{args:?}: {json}");
        assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{json}");
    }
    let (code, _, stderr) = mliy(&["sim", "--users", "0"]);
    assert_eq!(code, 2, "without --json clap's own message: {stderr}");
    for (flag, value) in [("--faults", "0.1"), ("--crash-every", "5"), ("--replicas", "2")] {
        let (code, json, _) = mliy(&["sim", "--refresh-only", flag, value, "--json"]);
        assert_eq!((code, json["error"]["field"].as_str()), (2, Some(flag)), "{json}");
    }
    let (code, json, _) = mliy(&["sim", "--store", "mysql://admin:pw-77c1@db.example/mliy", "--json"]);
    assert_eq!(code, 2);
    let text = json.to_string();
    assert!(!text.contains("pw-77c1") && text.contains("admin:****@db.example"), "{text}");
}

/// `mliy catalog sync --from DIR`: MLiy's fixture folder, recursively, by relative path; the
/// second run reads nothing new; a bad template is rejected and the library keeps its copy.
#[test]
fn catalog_sync_from_a_folder() {
    let (src, lib) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (sub, name) in [("ec2", EC2), ("emr", EMR)] {
        std::fs::create_dir_all(src.path().join(sub)).unwrap();
        std::fs::copy(fixtures::path(name), src.path().join(sub).join("MLiy.json")).unwrap();
    }
    std::fs::write(src.path().join("notes.txt"), "not a document").unwrap();
    let args = ["catalog", "sync", "--from", s(src.path()), "--into", s(lib.path()), "--json"];
    let (code, first, err) = mliy(&args);
    assert_eq!(code, 0, "{first} {err}");
    let added: Vec<&str> = first["added"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(added, ["ec2/MLiy.json", "emr/MLiy.json"]);
    let (_, second, _) = mliy(&args);
    assert_eq!((second["downloads"].as_u64(), second["unchanged"].as_array().map(Vec::len)), (Some(0), Some(2)));
    std::fs::write(src.path().join("ec2/MLiy.json"), "{\"Parameters\": {}}").unwrap();
    let (code, third, _) = mliy(&args);
    assert_eq!((code, third["rejected"][0]["key"].as_str()), (2, Some("ec2/MLiy.json")), "{third}");
    let kept = std::fs::read_to_string(lib.path().join("ec2/MLiy.json")).unwrap();
    assert_eq!(kept, std::fs::read_to_string(fixtures::path(EC2)).unwrap());
    let (code, refused, _) = mliy(&["catalog", "sync", "--from", "/no/such/folder", "--into", s(lib.path()), "--json"]);
    assert_eq!((code, refused["error"]["field"].as_str()), (2, Some("--from")), "{refused}");
}
