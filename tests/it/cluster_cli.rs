//! `mliy cluster render` on the files the other systems' guides wrote.

use super::cli::mliy;
use super::fixtures;
use serde_json::Value;

fn emr_fixture(name: &str) -> String {
    fixtures::dir().join("../emr").join(name).to_str().unwrap().to_string()
}

#[test]
fn the_edx_guides_file_renders_in_the_apis_field_names() {
    let (code, r, stderr) = mliy(&["cluster", "render", "--edx", &emr_fixture("edx-cluster.yml"), "--json"]);
    assert_eq!(code, 0, "{stderr} {r}");
    assert_eq!(r["ReleaseLabel"], "emr-4.7.2");
    assert_eq!(r["Instances"]["InstanceGroups"][1]["BidPrice"], "0.8", "bidprice as a string");
    assert_eq!(r["Instances"]["Ec2KeyName"], "<your keypair name here>");
    assert_eq!(r["Steps"][0]["HadoopJarStep"]["Jar"], "s3://elasticmapreduce/libs/script-runner/script-runner.jar");
    assert_eq!(r["Configurations"][0]["Properties"]["mapreduce.jobtracker.retiredjobs.cache.size"], "50");
    assert!(r.get("Ec2Attributes").is_none());
}

#[test]
fn the_step_functions_guides_machine_renders_each_state() {
    let file = emr_fixture("stepfunctions-emr-jupyterhub.asl.json");
    let (code, r, stderr) = mliy(&["cluster", "render", "--step-functions", &file, "--json"]);
    assert_eq!(code, 0, "{stderr} {r}");
    let guide: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let states = r["states"].as_array().unwrap();
    assert_eq!(states[0]["request"], guide["States"]["Create EMR cluster"]["Parameters"]);
    assert_eq!((states[1]["call"].as_str(), states[1]["resolved"].as_bool()), (Some("AddStep.sync"), Some(false)));
    let (code, r, _) =
        mliy(&["cluster", "render", "--step-functions", &file, "--input", r#"{"ClusterId": "j-9"}"#, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(r["states"][1]["request"]["JobFlowId"], "j-9");
}

#[test]
fn bad_cluster_files_exit_2_with_the_field() {
    let dir = std::env::temp_dir().join(format!("mliy-cluster-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.yml");
    let text = "name: a\nrelease_label: emr-6.15.0\ninstance_groups: {master: {num_instances: 1, type: m5.xlarge, market: ON_DEMAND, bidprice: 1}}\n";
    std::fs::write(&file, text).unwrap();
    let (code, r, _) = mliy(&["cluster", "render", "--edx", file.to_str().unwrap(), "--json"]);
    assert_eq!((code, r["error"]["field"].as_str()), (2, Some("Instances.InstanceGroups[0].BidPrice")), "{r}");
    let (code, r, _) = mliy(&["cluster", "render", "--json"]);
    assert_eq!((code, r["error"]["kind"].as_str()), (2, Some("validation")), "{r}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `mliy workflow run` on a simulated deployment: the guide's machine, unchanged, to its end;
/// a failing step exits 1 with the step's name.
#[test]
fn mliy_workflow_runs_the_guides_machine_on_a_simulated_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalog");
    for file in ["catalog.yaml", "instance.yaml", "cluster.yaml", "userdata.sh"] {
        std::fs::copy(examples.join(file), dir.path().join(file)).unwrap();
    }
    let machine = emr_fixture("stepfunctions-emr-jupyterhub.asl.json");
    let run = |sim: &str| {
        let config = dir.path().join("mliy.yaml");
        std::fs::write(&config, format!("catalog: catalog.yaml\ncloud: sim\nsim: {sim}\nstore: memory\n")).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mliy"))
            .args(["workflow", "run", &machine, "--group-config", "data-science", "--json"])
            .env("MLIY_CONFIG", &config)
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), json, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (code, r, stderr) = run("{speed: 1000}");
    assert_eq!(code, Some(0), "{stderr} {r}");
    assert_eq!(r["outcome"]["status"], "succeeded");
    assert_eq!(r["output"]["ClusterId"]["Step"]["Status"]["State"], "COMPLETED");
    let (code, r, _) = run("{speed: 1000, failing_steps: 1.0}");
    assert_eq!(code, Some(1), "{r}");
    assert!(r["outcome"]["cause"].as_str().unwrap().contains("Custom JAR"), "{r}");
}

/// `mliy cluster launch --edx`, `mliy launch --jupyter-user` and `mliy resources connection`
/// on a simulated deployment with a SQLite store.
#[cfg(feature = "sqlite")]
#[test]
fn edx_files_and_jupyterhub_users_launch_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalog");
    for file in ["catalog.yaml", "instance.yaml", "cluster.yaml", "userdata.sh"] {
        std::fs::copy(examples.join(file), dir.path().join(file)).unwrap();
    }
    let config = dir.path().join("mliy.yaml");
    std::fs::write(&config, "catalog: catalog.yaml\ncloud: sim\nsim: {speed: 1000}\nstore: {sqlite: state.sqlite}\n")
        .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mliy"))
            .args(args)
            .env("MLIY_CONFIG", &config)
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), json)
    };
    let edx = emr_fixture("edx-cluster.yml");
    let (code, r) = run(&["cluster", "launch", "--edx", &edx, "--group-config", "data-science", "--wait", "--json"]);
    assert_eq!(code, Some(0), "{r}");
    // Its step is queued, so the cluster is up and RUNNING it (WAITING once done).
    assert!(["running", "waiting"].contains(&r["phase"]["phase"].as_str().unwrap()), "{r}");
    assert_eq!(r["job_flow"]["Instances"]["InstanceGroups"][1]["BidPrice"], "0.8");
    let args = [
        "launch",
        "--as",
        "dana",
        "--group-config",
        "data-science",
        "--software-config",
        "jupyterhub",
        "--instance-type",
        "m5.xlarge",
        "--cluster",
        "--core-nodes",
        "1",
        "--jupyter-user",
        "ana",
        "--wait",
        "--json",
    ];
    let (code, r) = run(&args);
    assert_eq!(code, Some(0), "{r}");
    let password = r["jupyter_passwords"]["ana"].as_str().unwrap();
    assert_eq!(password.len(), 24);
    let id = r["id"].as_str().unwrap().to_string();
    let (code, c) = run(&["resources", "connection", &id, "--json"]);
    assert_eq!(code, Some(0), "{c}");
    let address = c["address"].as_str().unwrap();
    assert_eq!(c["jupyterhub_url"], format!("https://{address}:9443"));
    assert_eq!(c["custom_url"], format!("https://{address}:9443/hub/login"));
    let stored = std::fs::read(dir.path().join("state.sqlite")).unwrap();
    assert!(!stored.windows(password.len()).any(|w| w == password.as_bytes()), "the password is not at rest");
}
